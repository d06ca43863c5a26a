"""No user ID from a CSV ever appears in the CLI's output, text or --json, whatever the file and the outcome.

(The ``cli`` fixture already checks every invocation of the tier; this module drives the files and paths where
a leak would be most likely and scans everything they printed in one place.)
"""

from __future__ import annotations

import json

from tests.cli.conftest import GROUP, POLL, STACK
from tests.harness.fakes import JobPlan

#: IDs in awkward places: where the header should be, with commas, quoted, next to undecodable bytes.
IDS = ["priv-7c1e-secret", "priv-9a3b-secret", "priv-00f2-secret", "priv-55d1-secret"]
FILES = {
    "good": f"USER_ID\n{IDS[0]}\n{IDS[1]}\n".encode(),
    "ID instead of header": f"{IDS[2]}\n{IDS[0]}\n".encode(),
    "ID in a two-column header": f"USER_ID,{IDS[3]}\n{IDS[0]},x\n".encode(),
    "ID with a comma": f"USER_ID\n{IDS[0]}\n{IDS[1]},{IDS[2]}\n".encode(),
    "quoted ID": f'USER_ID\n"{IDS[3]}"\n'.encode(),
    "ID next to Latin-1": f"USER_ID\n{IDS[1]}".encode() + b"\xe9\n",
    "BOM then ID": b"\xef\xbb\xbf" + f"{IDS[2]}\n".encode(),
}


def test_no_user_id_in_any_output(local, cli, write_csv):
    local.personalize.default_plan = JobPlan(duration=120, num_deleted=2)
    printed: list[str] = []

    def run(*args):
        result = cli(*args)
        printed.extend([result.stdout, result.stderr])
        return result

    for name, data in FILES.items():
        csv = write_csv(data, name=f"{name.replace(' ', '-')}.csv")
        for mode in ([], ["--json"]) if name in ("good", "ID with a comma") else ([],):
            run("delete-users", "--dataset-group-arn", GROUP, "--csv", str(csv), "--stack", STACK, *POLL, *mode)

    # The workflow's own pre-flight on a bad file (started without the CLI), then read through the CLI.
    local.s3.put_object(Bucket=local.bucket(), Key="deletions/direct.csv", Body=FILES["ID instead of header"])
    rejected = local.run("DataDeletion", {"datasetGroupArn": GROUP,
                                          "dataLocation": f"s3://{local.bucket()}/deletions/direct.csv"})
    assert rejected.error == "InvalidInput"
    local.personalize.default_plan = JobPlan(duration=120, outcome="failure",
                                             failure_reason="Personalize could not read the file")
    failing = write_csv(FILES["good"], name="failing.csv")
    failed = run("delete-users", "--dataset-group-arn", GROUP, "--csv", str(failing), "--stack", STACK, *POLL,
                 "--json").json()["execution"]
    assert failed["error"] == "DataDeletionJobFailed"
    for arn in (rejected.arn, failed["executionArn"]):  # the pre-flight's rejection, the job's failure
        run("status", arn)
        run("status", arn, "--json")
    run("list", "--stack", STACK, "--max", "10")
    run("list", "--stack", STACK, "--max", "10", "--json")

    everything = "\n".join(printed)
    assert [i for i in IDS if i in everything] == []
    # The scan is meaningful: the IDs did reach S3 and the workflow, and the commands did print.
    uploads = [o["Key"] for o in local.s3.list_objects_v2(Bucket=local.bucket(), Prefix="deletions/cli/")["Contents"]]
    assert len(uploads) == 4  # good (text, --json), quoted ID and failing.csv; the bad files never left
    bodies = [local.s3.get_object(Bucket=local.bucket(), Key=k)["Body"].read().decode() for k in uploads]
    assert any(IDS[0] in body for body in bodies) and any(IDS[3] in body for body in bodies)
    assert "numDeleted" in everything and "InvalidInput" in everything and "DataDeletionJobFailed" in everything
    for doc in (json.loads(p) for p in printed if p.startswith("{")):
        assert not any(i in json.dumps(doc) for i in IDS)
