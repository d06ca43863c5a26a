"""Quality gates: cdk-nag 3 (AwsSolutions), cfn-lint and checkov, on the sample app and on other compositions.

Every gate runs on:

- ``sample``: the sample app as ``cdk synth`` builds it;
- ``deletion_only``: DataDeletionWorkflow with no props, alone;
- ``export_narrowed``: AudienceExportWorkflow narrowed to one generation job and one configured model;
- ``imported_bucket_deletion``: DataDeletionWorkflow on an existing bucket imported by name (``bucket: any IBucket``);
- ``sample_destroy_on_removal``: the sample app with its documented dev setting ``-c destroyOnRemoval=true``
  (``auto_delete_objects=True``, which adds CDK's auto-delete custom resource);
- ``sample_with_triggers``: the sample app with ``-c uploadTriggers=deletions/incoming/shop/=<dataset group>``
  and ``-c notificationEmail=privacy@example.com`` (upload trigger, EventBridge on the bucket, e-mail subscription);
- ``own_topics``: both workflows with ``create_topic=True`` (each its own encrypted topic and key),
  the deletion workflow with an upload trigger on the bucket it creates;
- ``sample_with_queue``: the sample app with ``-c requestQueueDatasetGroupArns=<shop>,<news>`` (a
  DeletionRequestQueue: ledger table, five functions, batch state machine, schedule, alarms);
- ``queue_minimal``: a narrowed deletion workflow without topic or reporter and a queue without schedule,
  props at the edges of their ranges, a role allowed to submit requests.
- ``models_forget``: DataDeletionWorkflow with the quiet period, retraining and campaign updates on.

Each gate also has a test proving it can fail, so a silent gate does not pass for a clean one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from .helpers import Synth, acknowledgments, resources

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = os.environ.get("CHECKOV", str(ROOT / ".venv-checkov" / "bin" / "checkov"))
GATE_STACKS = ["sample", "deletion_only", "export_narrowed", "imported_bucket_deletion", "sample_destroy_on_removal",
               "sample_with_triggers", "own_topics", "sample_with_queue", "queue_minimal",
               "models_forget"]
MIN_REASON = 40


@pytest.fixture(scope="module")
def sample_destroy_on_removal(make_app, sample_stack):
    """The sample app synthesized with ``-c destroyOnRemoval=true`` (its documented dev-stack setting)."""
    import app as sample_app  # the sample_stack fixture (tests/conftest.py) put the project root on sys.path

    stack = sample_app.build(make_app(destroyOnRemoval="true"))
    template = Template.from_stack(stack)
    return Synth(stack.node.root, stack, template, template.to_json())


@pytest.fixture(params=GATE_STACKS)
def gate_stack(request, sample):
    """One synthesized gate stack (``sample`` is requested first so the project root is importable)."""
    synth = request.getfixturevalue(request.param)
    return dataclasses.replace(synth, parts={**synth.parts, "gate_name": request.param})


@pytest.fixture(scope="module")
def insecure(make_app):
    """A stack a gate must reject: a plain s3.Bucket (no logging, no TLS policy, no versioning)."""
    app = make_app()
    stack = cdk.Stack(app, "Insecure")
    s3.Bucket(stack, "PlainBucket")
    return app, stack, Template.from_stack(stack).to_json()


def _describe(report) -> list[str]:
    return [f"{v.rule_name}: {[r.construct_path for r in v.violating_resources]}" for v in report.violations]


# --------------------------------------------------------------------------- cdk-nag 3


def test_cdk_nag_aws_solutions_finds_nothing(gate_stack):
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks(gate_stack.app).validate_scope(gate_stack.stack)
    assert _describe(report) == []
    assert report.success


def test_cdk_nag_gate_can_fail(insecure):
    from cdk_nag import AwsSolutionsChecks

    app, stack, _ = insecure
    report = AwsSolutionsChecks(app).validate_scope(stack)
    assert not report.success
    paths = {v.rule_name: [r.construct_path for r in v.violating_resources] for v in report.violations}
    for rule in ("AwsSolutions-S1", "AwsSolutions-S10"):
        assert rule in paths, _describe(report)
        assert any(p.startswith("Insecure/PlainBucket") for p in paths[rule]), paths[rule]


def test_every_acknowledgment_is_reasoned_and_attached_to_one_resource(gate_stack):
    found = acknowledgments(gate_stack.stack)
    assert found, "expected the library's acknowledgments in the construct tree"
    for construct, rule, reason in found:
        where = f"{construct.node.path}: {rule}"
        rule_id = rule.removeprefix("Annotation::")
        assert rule_id.strip(), where
        assert isinstance(reason, str) and len(reason.strip()) >= MIN_REASON, (where, reason)
        assert not isinstance(construct, (cdk.Stack, cdk.Stage)), f"{where} is acknowledged for a whole scope"
        assert isinstance(construct, cdk.CfnResource) or isinstance(construct.node.default_child, cdk.CfnResource), (
            f"{where} is not attached to a resource")
        if rule_id.startswith("AwsSolutions-IAM5"):
            assert rule_id.startswith("AwsSolutions-IAM5[") and rule_id.endswith("]"), (
                f"{where}: a bare IAM5 acknowledgment covers none of the granular findings")


# --------------------------------------------------------------------------- cfn-lint


def _cfn_lint(template: dict, path: Path) -> list[str]:
    from cfnlint.api import ManualArgs, lint_file

    path.write_text(json.dumps(template, indent=1))
    return [str(match) for match in lint_file(path, config=ManualArgs(ignore_checks=["W3005"]))]


def test_cfn_lint_finds_nothing(gate_stack, tmp_path):
    assert _cfn_lint(gate_stack.json, tmp_path / "template.json") == []


def test_cfn_lint_gate_can_fail(tmp_path):
    broken = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketNam": "typo"}}}}
    findings = _cfn_lint(broken, tmp_path / "broken.json")
    assert any("E3002" in f for f in findings), findings


# --------------------------------------------------------------------------- checkov


@pytest.fixture(scope="module", autouse=True)
def checkov_process(tmp_path_factory, request, sample, insecure):
    """Start checkov once, at the start of this module, on every gate template plus the insecure one.

    It runs in the background while the cdk-nag and cfn-lint tests run; ``checkov`` collects it. Run
    without ``--quiet`` so the JSON report lists skipped checks (with their comments) too.
    """
    folder = tmp_path_factory.mktemp("checkov")
    names = []
    for name in GATE_STACKS:
        (folder / f"{name}.json").write_text(json.dumps(request.getfixturevalue(name).json, indent=1))
        names.append(f"{name}.json")
    (folder / "insecure.json").write_text(json.dumps(insecure[2], indent=1))
    names.append("insecure.json")
    command = [CHECKOV, *(arg for n in names for arg in ("-f", n)),
               "--framework", "cloudformation", "--compact", "--skip-download", "-o", "json"]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "LOG_LEVEL": "WARNING"})
    yield names, process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def checkov(checkov_process):
    """checkov's results, by template file name: ``{"passed": [...], "failed": [...], "skipped": [...]}``."""
    names, process = checkov_process
    stdout, stderr = process.communicate(timeout=300)
    assert stdout.strip(), f"checkov printed nothing (exit {process.returncode}): {stderr[-2000:]}"
    reports = json.loads(stdout)
    reports = reports if isinstance(reports, list) else [reports]
    (report,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    by_file: dict[str, dict[str, list]] = {n: {"passed": [], "failed": [], "skipped": []} for n in names}
    for outcome in ("passed", "failed", "skipped"):
        for check in report["results"].get(f"{outcome}_checks", []):
            by_file[Path(check["file_path"]).name][outcome].append(check)
    return by_file


def test_checkov_finds_no_failed_check(gate_stack, checkov):
    results = checkov[f"{gate_stack.parts['gate_name']}.json"]
    assert results["passed"], "checkov evaluated nothing"
    assert [f"{c['check_id']} {c['resource']}" for c in results["failed"]] == []


def test_checkov_skips_are_explained(gate_stack, checkov):
    results = checkov[f"{gate_stack.parts['gate_name']}.json"]
    for check in results["skipped"]:
        comment = check["check_result"].get("suppress_comment") or ""
        assert len(comment.strip()) >= 20, f"{check['check_id']} {check['resource']}: {comment!r}"
    # every skip the template declares carries a reason, whether checkov applied it or not
    for lid, resource in resources(gate_stack.json).items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip.get("id", "").startswith("CKV"), (lid, skip)
            assert len(str(skip.get("comment", "")).strip()) >= 20, (lid, skip)


def test_checkov_gate_can_fail(checkov):
    failed = {c["check_id"] for c in checkov["insecure.json"]["failed"]}
    assert {"CKV_AWS_18", "CKV_AWS_21"} <= failed, failed

