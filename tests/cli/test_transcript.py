"""A delete-users run as an operator sees it (text output), kept in TRANSCRIPT.txt for the README.

Run with ML_DATA_JOBS_WRITE_TRANSCRIPT=1 to rewrite tests/cli/TRANSCRIPT.txt. The follow loop's sleep is
shortened to 10 ms (the command keeps its default --poll-seconds 5, as an operator would run it); timings are
those of the local run (the virtual clock makes a 45-minute job take a fraction of a second).
"""

from __future__ import annotations

import os
import re
import shlex
import time
from pathlib import Path

from tests.cli.conftest import GROUP, STACK, USER_IDS
from tests.harness.fakes import JobPlan

TRANSCRIPT = Path(__file__).with_name("TRANSCRIPT.txt")


def test_delete_users_transcript(local, cli, tmp_path, monkeypatch, write_csv):
    from cdk_ml_data_jobs.cli import follow

    monkeypatch.setattr(follow, "sleep", lambda seconds: time.sleep(0.01))
    monkeypatch.chdir(tmp_path)
    write_csv(["USER_ID", *USER_IDS], name="users.csv")
    local.personalize.default_plan = JobPlan(duration=45 * 60, num_deleted=17)
    args = ["delete-users", "--stack", STACK, "--dataset-group-arn", GROUP, "--csv", "users.csv"]

    run = cli(*args)

    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0] == "✓ users.csv: 3 user IDs, 77 bytes, UTF-8, header USER_ID"
    assert lines[1].startswith("Workflow  arn:aws:states:") and lines[1].endswith(f"(stack {STACK})")
    assert re.fullmatch(r"Uploaded  s3://\S+/deletions/cli/\d{4}-\d\d-\d\d/[0-9a-f-]{36}\.csv", lines[2])
    assert lines[3].startswith("Started   delete-users-")
    assert lines[5] == "Following every 5 s; Ctrl-C stops following, not the execution"
    assert any(re.match(r"SUCCEEDED in .*: Personalize deleted 17 records$", line) for line in lines)
    transcript = f"$ ml-data-jobs {shlex.join(args[0:])}\n{run.stdout}$ echo $?\n{run.exit_code}\n"
    if os.environ.get("ML_DATA_JOBS_WRITE_TRANSCRIPT"):
        TRANSCRIPT.write_text(transcript, encoding="utf-8")
