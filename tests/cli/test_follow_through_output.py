"""The CLI's result of a deletion whose workflow already retrained the models (the opt-in follow-through)."""

from __future__ import annotations

from cdk_ml_data_jobs.cli.aws import ExecutionView
from cdk_ml_data_jobs.cli.render import Reporter

HINT = "After a deletion, AWS recommends training a new solution version"
INPUT = {"datasetGroupArn": "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop",
         "dataLocation": "s3://b/deletions/u.csv"}


def _printed(capsys, output) -> str:
    view = ExecutionView("arn:aws:states:us-east-1:123456789012:execution:M:req-1", "req-1", "arn:m", "SUCCEEDED",
                         None, None, INPUT, output)
    Reporter("status", as_json=False).execution(view)
    return capsys.readouterr().out


def test_the_retraining_hint_is_left_out_once_the_workflow_retrained(capsys):
    base = {"status": "COMPLETED", "numDeleted": 3}
    done = _printed(capsys, {**base, "followThrough": {"status": "COMPLETED"},
                             "solutionVersionArns": ["arn:aws:personalize:us-east-1:123456789012:solution/r/1"]})
    assert HINT not in done and "solutionVersionArns" in done and "followThrough.status" in done
    for output in (base, {**base, "followThrough": {"status": "NOT_CONFIGURED"}}, {**base, "followThrough": "x"}):
        assert HINT in _printed(capsys, output)
