"""The CLI's local CSV check agrees with the deletion workflow's server-side pre-flight.

Each file is checked locally (``cdk_ml_data_jobs.cli.csvcheck``) and, with the same bytes in S3, by the
deployed workflow (its Validate step runs ``lambda/deletion_preflight.py``): both must reject it with the same
sentences (the local path in place of the S3 location), or both accept it.
"""

from __future__ import annotations

import pytest

from cdk_ml_data_jobs.cli import csvcheck
from tests.cli.conftest import GROUP

IDS = b"cli-user-4f2a91-secret\ncli-user-b7c0e3-secret\n"
LONG_ID = "cli-user-" + "\u00e9" * 1100 + "-secret"  # 2-byte characters: the 2 KiB head ends inside one

REJECTED_BY_BOTH = {
    "no header": b"cli-user-4f2a91-secret\n" + IDS,
    "lower-case header": b"user_id\n" + IDS,
    "header with a trailing space": b"USER_ID \n" + IDS,
    "two columns in the header": b"USER_ID,ITEM_ID\ncli-user-4f2a91-secret,item-1\n",
    "spaced two-column header": b"user_id , timestamp\ncli-user-4f2a91-secret,1\n",
    "header only": b"USER_ID\n",
    "blank line after the header": b"USER_ID\n\n" + IDS,
    "byte-order mark": b"\xef\xbb\xbfUSER_ID\n" + IDS,
    "Latin-1 in the head": "USER_ID\ncli-user-\xe9-secret\n".encode("latin-1"),
    "UTF-16": "USER_ID\ncli-user-4f2a91-secret\n".encode("utf-16-le"),
    "empty": b"",
    "old Mac line endings": b"USER_ID\rcli-user-4f2a91-secret\r",
}
ACCEPTED_BY_BOTH = {
    "plain": b"USER_ID\n" + IDS,
    "CRLF": b"USER_ID\r\ncli-user-4f2a91-secret\r\ncli-user-b7c0e3-secret\r\n",
    "no final newline": b"USER_ID\ncli-user-4f2a91-secret\ncli-user-b7c0e3-secret",
    "a character cut at 2 KiB": f"USER_ID\n{LONG_ID}\ncli-user-b7c0e3-secret\n".encode("utf-8"),
    "blank lines at the end": b"USER_ID\n" + IDS + b"\n\n",
}


def _server(local, name: str, data: bytes):
    key = f"deletions/agree/{name.replace(' ', '-')}.csv"
    local.s3.put_object(Bucket=local.bucket(), Key=key, Body=data)
    location = f"s3://{local.bucket()}/{key}"
    return location, local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location})


def _as_cause(problems: list[str]) -> str:
    """How the workflow words an InvalidInput cause (jobkit.errors.InvalidInput)."""
    if len(problems) == 1:
        return f"Input rejected: {problems[0]}"
    return f"Input rejected, {len(problems)} problems: " + "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))


@pytest.mark.parametrize("name, data", REJECTED_BY_BOTH.items(), ids=REJECTED_BY_BOTH.keys())
def test_both_reject_with_the_same_sentences(local, write_csv, name, data):
    path = write_csv(data)

    mine = csvcheck.check_file(path)
    location, ex = _server(local, name, data)

    assert not mine.ok
    assert ex.status == "FAILED" and ex.error == "InvalidInput", ex.output
    assert ex.cause == _as_cause([p.replace(str(path), location) for p in mine.problems])


@pytest.mark.parametrize("name, data", ACCEPTED_BY_BOTH.items(), ids=ACCEPTED_BY_BOTH.keys())
def test_both_accept(local, write_csv, name, data):
    path = write_csv(data)

    mine = csvcheck.check_file(path)
    _, ex = _server(local, name, data)

    assert mine.ok, mine.problems
    assert mine.user_ids == 2
    assert ex.status == "SUCCEEDED", ex.cause


def test_both_apply_the_same_size_limit(local, write_csv, monkeypatch):
    import deletion_preflight  # the server-side module, on sys.path while the harness runs

    assert csvcheck.MAX_TOTAL_BYTES == deletion_preflight.MAX_TOTAL_BYTES == 100 * 1024 * 1024
    assert csvcheck.HEAD_BYTES == 2048 and csvcheck.head_problems.__module__ == "cdk_ml_data_jobs._lambda_csv_rules"
    for module in (csvcheck, deletion_preflight):  # a limit small enough to test with a small file
        monkeypatch.setattr(module, "MAX_TOTAL_BYTES", 40)
    data = b"USER_ID\n" + IDS
    path = write_csv(data)

    mine = csvcheck.check_file(path)
    location, ex = _server(local, "too big", data)

    assert mine.problems == (f"the user-ID data is {len(data)} bytes; Personalize accepts at most 40 bytes per job",)
    assert ex.error == "InvalidInput"
    assert ex.cause == _as_cause(list(mine.problems))


def test_a_file_over_100_mb_is_judged_by_its_size_and_head_without_reading_it_all(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.write(b"USER_ID\ncli-user-4f2a91-secret\n")
        handle.truncate(csvcheck.MAX_TOTAL_BYTES + 1)  # sparse: no 100 MB written

    mine = csvcheck.check_file(path)

    assert mine.problems == (f"the user-ID data is {csvcheck.MAX_TOTAL_BYTES + 1} bytes; Personalize accepts at "
                             f"most {csvcheck.MAX_TOTAL_BYTES} bytes per job",)
    assert mine.user_ids is None


LOCAL_ONLY = {
    # The server reads 2 KiB of each file; the CLI has the whole file and applies the same rules to all of it.
    "a row with two values after the head": (
        b"USER_ID\n" + b"cli-user-4f2a91-secret\n" * 200 + b"cli-user-b7c0e3-secret,2026-11-23\n",
        "must have a single USER_ID column (1 line(s) have more than one value, the first is line 202)"),
    "Latin-1 after the head": (
        b"USER_ID\n" + b"cli-user-4f2a91-secret\n" * 200 + "cli-user-\xe9-secret\n".encode("latin-1"),
        "is not UTF-8 text (line 202)"),
}


@pytest.mark.parametrize("data, expected", LOCAL_ONLY.values(), ids=LOCAL_ONLY.keys())
def test_the_whole_file_is_held_to_the_same_rules(write_csv, data, expected):
    path = write_csv(data)

    mine = csvcheck.check_file(path)

    assert mine.problems == (f"{path} {expected}",)


def test_counts_ignore_blank_lines_and_accept_quoted_values(write_csv):
    path = write_csv(b'USER_ID\r\ncli-user-4f2a91-secret\r\n\r\n"cli-user,b7c0e3-secret"\r\n  \r\nu3-secret\r\n')

    mine = csvcheck.check_file(path)

    assert mine.ok, mine.problems
    assert mine.user_ids == 3
    assert mine.as_dict() == {"path": str(path), "bytes": path.stat().st_size, "userIds": 3, "problems": []}


def test_problems_never_quote_the_file(write_csv):
    for data in [*REJECTED_BY_BOTH.values(), *(data for data, _ in LOCAL_ONLY.values())]:
        text = " ".join(csvcheck.check_file(write_csv(data)).problems)
        assert "secret" not in text and "ITEM_ID" not in text and "timestamp" not in text, text
