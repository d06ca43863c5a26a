"""The construct/Lambda contract (``lambda/jobkit/contract.py``), pinned on both sides.

Each name is written once, in that file; the construct library and the CLI load
it from the shipped Lambda code. These tests pin what the synthesized templates
contain to what the handler code reads: every function gets exactly the
environment variables its handler (and the modules it imports) read, the Decide
state branches on the phases the tracker writes, the reporter listens for the
statuses and publishes under the source the contract names, and the CLI offers
the workflow names the reporter writes.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from cdk_ml_data_jobs import _contract as contract
from cdk_ml_data_jobs._assets import lambda_code_dir

from .helpers import definition, props, render, resources

LAMBDA_DIR = lambda_code_dir()
#: Variables the Lambda runtime sets itself; handlers may read them without the construct setting them.
RUNTIME_VARIABLES = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME"}


def _module_path(name: str) -> Path | None:
    for candidate in (LAMBDA_DIR / f"{name.replace('.', '/')}.py", LAMBDA_DIR / name.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(tree: ast.AST, package: str) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import inside jobkit
                base = f"{package}.{base}" if base else package
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if _module_path(name) is not None}


def variables_read(handler_module: str) -> tuple[set[str], set[str]]:
    """``(required, optional)``: the ``Env.X`` a handler module and the project modules it imports (transitively)
    read with ``os.environ[...]`` (required) or with ``os.environ.get(...)`` (optional)."""
    env = {name: value for name, value in vars(contract.Env).items() if name.isupper()}

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Env":
            return env[node.attr]  # KeyError: a name the contract does not define
        return None

    seen, todo = set(), [handler_module]
    required: set[str] = set()
    optional: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse(_module_path(module).read_text())
        package = module.rsplit(".", 1)[0] if "." in module else module
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" and name_of(node.slice):
                required.add(name_of(node.slice))
            elif isinstance(node, ast.Call) and ast.unparse(node.func) == "os.environ.get" and node.args \
                    and name_of(node.args[0]):
                optional.add(name_of(node.args[0]))
        todo.extend(_imported_modules(tree, package) - seen)
    return required, optional - required


def literal_environment_reads() -> list[str]:
    """``os.environ[...]`` / ``os.environ.get(...)`` with a string literal that is not a runtime variable."""
    found = []
    for path in sorted(LAMBDA_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            key = None
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key = node.slice
            elif isinstance(node, ast.Call) and ast.unparse(node.func) == "os.environ.get" and node.args:
                key = node.args[0]
            if isinstance(key, ast.Constant) and key.value not in RUNTIME_VARIABLES:
                found.append(f"{path.relative_to(LAMBDA_DIR)}:{node.lineno} reads {key.value!r}")
    return found


def _functions(template: dict) -> dict[str, dict]:
    return {lid: props(template, lid) for lid in resources(template, "AWS::Lambda::Function")
            if props(template, lid).get("Handler", "").endswith(".handler")}


@pytest.fixture(scope="module")
def full(sample_with_triggers):
    """The sample app with upload triggers: every kind of function this library creates."""
    return sample_with_triggers.json


def test_handlers_read_the_environment_only_through_the_contract():
    assert literal_environment_reads() == []


def test_every_function_gets_exactly_the_variables_its_handler_reads(full):
    functions = _functions(full)
    handlers = {p["Handler"].removesuffix(".handler") for p in functions.values()}
    assert handlers >= {"deletion_validate", "deletion_launch", "deletion_poll", "export_validate", "export_start",
                        "export_poll", "outcome_report", "upload_trigger"}
    for lid, function in functions.items():
        given = set(function.get("Environment", {}).get("Variables", {}))
        required, optional = variables_read(function["Handler"].removesuffix(".handler"))
        assert required <= given <= required | optional, lid


def test_the_opt_in_functions_get_exactly_the_variables_their_handlers_read(models_forget):
    functions = _functions(models_forget.json)
    handlers = {p["Handler"].removesuffix(".handler") for p in functions.values()}
    assert {"deletion_quiet_launch", "deletion_follow_through"} <= handlers
    for lid, function in functions.items():
        given = set(function.get("Environment", {}).get("Variables", {}))
        required, optional = variables_read(function["Handler"].removesuffix(".handler"))
        assert required <= given <= required | optional, lid
    assert {contract.Env.QUIET_PERIOD_TIMEOUT_SECONDS, contract.Env.DATA_ACCESS_ROLE_ARN} <= variables_read(
        "deletion_quiet_launch")[0]


def test_the_opt_in_choices_branch_on_the_phases_the_handlers_write(models_forget, monkeypatch):
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(LAMBDA_DIR))
    for name in [m for m in sys.modules if m == "jobkit" or m.startswith("jobkit.")]:
        monkeypatch.delitem(sys.modules, name)
    tracker = importlib.import_module("jobkit.tracker")
    assert {tracker.waiting(p, {}, "s", 1)["phase"] for p in (contract.PHASE_WAIT_TO_LAUNCH,
                                                               contract.PHASE_FOLLOW_THROUGH)} == {
        "WAIT_TO_LAUNCH", "FOLLOW_THROUGH"}
    [machine] = _machines(models_forget.json)
    for choice, phases in ((contract.STATE_DECIDE, {contract.PHASE_RUNNING, contract.PHASE_WAIT_TO_LAUNCH,
                                                    contract.PHASE_SUCCEEDED}),
                           (contract.STATE_DECIDE_FOLLOW_THROUGH, {contract.PHASE_FOLLOW_THROUGH,
                                                                   contract.PHASE_WAIT_TO_LAUNCH,
                                                                   contract.PHASE_SUCCEEDED})):
        compared = {c["StringEquals"] for c in machine["States"][choice]["Choices"]}
        assert compared == phases, choice


def test_the_variable_scan_sees_reads_in_imported_modules():
    # jobkit/tracker.py reads the polling bounds for the launch and poll functions
    required, _ = variables_read("deletion_poll")
    assert {contract.Env.POLL_MIN_WAIT_SECONDS, contract.Env.JOB_TIMEOUT_SECONDS} <= required
    assert contract.Env.DATA_BUCKET in variables_read("deletion_validate")[0]
    assert contract.Env.DATA_BUCKET not in set().union(*variables_read("export_validate"))
    assert {contract.Env.TOPIC_ARN, contract.Env.AUDIT_BUCKET} <= variables_read("outcome_report")[1]


def _machines(template: dict) -> list[dict]:
    return [definition(template, lid) for lid in resources(template, "AWS::StepFunctions::StateMachine")]


def test_decide_branches_on_the_phases_the_tracker_writes(full, monkeypatch):
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(LAMBDA_DIR))
    for name in [m for m in sys.modules if m == "jobkit" or m.startswith("jobkit.")]:
        monkeypatch.delitem(sys.modules, name)
    tracker = importlib.import_module("jobkit.tracker")
    written = {tracker.running({}, "s", 1)["phase"], tracker.succeeded({}, "s", {})["phase"],
               tracker.stopped({}, "s", "E", {})["phase"]}
    assert written == {contract.PHASE_RUNNING, contract.PHASE_SUCCEEDED, contract.PHASE_STOPPED}
    for machine in _machines(full):
        choices = machine["States"][contract.STATE_DECIDE]["Choices"]
        compared = {c["StringEquals"] for c in choices if c.get("Variable") == "$.tracker.phase"}
        assert compared == {contract.PHASE_RUNNING, contract.PHASE_SUCCEEDED}


def test_the_named_states_run_the_functions_code_outside_the_definition_expects(full):
    functions = _functions(full)
    by_arn = {"${%s.Arn}" % lid: p["Handler"].removesuffix(".handler") for lid, p in functions.items()}
    seen = set()
    for machine in _machines(full):
        states = machine["States"]
        handlers = {name: by_arn[render(states[name]["Resource"])]
                    for name in (contract.STATE_VALIDATE, contract.STATE_LAUNCH, contract.STATE_CHECK)}
        kind = handlers[contract.STATE_VALIDATE].split("_")[0]
        assert handlers == {contract.STATE_VALIDATE: f"{kind}_validate",
                            contract.STATE_LAUNCH: {"deletion": "deletion_launch", "export": "export_start"}[kind],
                            contract.STATE_CHECK: f"{kind}_poll"}
        assert states[contract.STATE_WAIT]["Type"] == "Wait"
        seen.add(kind)
    assert seen == {"deletion", "export"}


def test_the_reporter_listens_for_the_terminal_statuses_and_publishes_under_the_event_source(full):
    rules = [props(full, lid) for lid in resources(full, "AWS::Events::Rule")]
    finished = [r["EventPattern"] for r in rules if r["EventPattern"].get("source") == ["aws.states"]]
    assert len(finished) == 2
    assert all(p["detail"]["status"] == list(contract.TERMINAL_STATUSES) for p in finished)
    reporters = {lid: p for lid, p in _functions(full).items() if p["Handler"] == "outcome_report.handler"}
    workflows = {p["Environment"]["Variables"][contract.Env.WORKFLOW] for p in reporters.values()}
    assert workflows == set(contract.WORKFLOWS) == set(contract.DETAIL_TYPES)
    deletion = next(p for p in reporters.values() if p["Environment"]["Variables"][contract.Env.WORKFLOW]
                    == contract.DATA_DELETION)
    assert deletion["Environment"]["Variables"][contract.Env.AUDIT_PREFIX] == contract.DEFAULT_AUDIT_PREFIX
    sources = [s["Condition"]["ForAllValues:StringEquals"]["events:source"]
               for lid in resources(full, "AWS::IAM::Policy")
               for s in props(full, lid)["PolicyDocument"]["Statement"] if "events:PutEvents" in json.dumps(s)]
    assert sources == [[contract.EVENT_SOURCE]] * 2


def test_the_sample_bucket_expires_user_id_files_under_the_default_prefix(full):
    buckets = [props(full, lid) for lid in resources(full, "AWS::S3::Bucket")]
    prefixes = {rule.get("Prefix") for b in buckets for rule in b.get("LifecycleConfiguration", {}).get("Rules", [])
                if rule.get("Id") == "expire-user-id-files"}
    assert prefixes == {contract.DEFAULT_DELETION_PREFIX}


def test_the_cli_offers_the_workflow_names_the_reporter_writes():
    from cdk_ml_data_jobs.cli.commands import cli

    option = next(p for p in cli.commands["list"].params if p.name == "workflow")
    assert tuple(option.type.choices) == contract.WORKFLOWS
