"""The CLI as a package: an optional extra, a console script, no click/rich in the library, documented exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdk_ml_data_jobs.cli import exitcodes, main
from cdk_ml_data_jobs.cli.commands import cli

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "constructs" / "cdk_ml_data_jobs"
COMMANDS = ["delete-users", "export-audience", "status", "list"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", PYTHONDONTWRITEBYTECODE="1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def test_the_library_loads_without_click_or_rich_and_the_console_script_runs():
    """In a fresh interpreter: every module of the package but the two that render, then the entry point."""
    probe = (
        "import contextlib, io, json, pkgutil, sys, importlib\n"
        "from importlib import metadata\n"
        "import cdk_ml_data_jobs\n"
        "for m in pkgutil.walk_packages(cdk_ml_data_jobs.__path__, 'cdk_ml_data_jobs.'):\n"
        "    if m.name not in ('cdk_ml_data_jobs.cli.commands', 'cdk_ml_data_jobs.cli.render'):\n"
        "        importlib.import_module(m.name)\n"
        "loaded = sorted(n for n in sys.modules if n.split('.')[0] in ('click', 'rich', 'boto3'))\n"
        "(entry,) = metadata.entry_points(group='console_scripts', name='ml-data-jobs')\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = entry.load()(['list', '--json'])\n"
        "print(json.dumps({'loaded': loaded, 'entry': entry.value, 'code': code, 'doc': json.loads(out.getvalue())}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["entry"] == "cdk_ml_data_jobs.cli:main"
    assert report["code"] == exitcodes.USAGE and report["doc"]["error"]["kind"] == "usage"
    assert (Path(sys.executable).parent / "ml-data-jobs").is_file()  # the installed console script


def test_only_the_cli_modules_that_render_import_click_or_rich():
    pattern = re.compile(r"^\s*(?:import|from)\s+(click|rich)\b", re.MULTILINE)
    importing = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if pattern.search(p.read_text()))
    assert importing == ["cli/commands.py", "cli/render.py"]


def test_the_cli_extra_pins_click_rich_and_boto3_and_dev_has_the_same_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"ml-data-jobs": "cdk_ml_data_jobs.cli:main"}
    cli_extra = project["optional-dependencies"]["cli"]
    pins = {re.split(r"==", d)[0]: d for d in cli_extra}
    assert set(pins) == {"boto3", "click", "rich"} and all("==" in d for d in cli_extra)
    dev = project["optional-dependencies"]["dev"]
    assert pins["click"] in dev and pins["rich"] in dev and pins["boto3"] in dev
    assert not any(d.split("==")[0] in ("click", "rich") for d in project["dependencies"])


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["group", *COMMANDS])
def test_help_documents_the_exit_codes(command):
    result = CliRunner().invoke(cli, [*command, "--help"])

    assert result.exit_code == 0
    text = result.stdout
    assert "Exit codes:" in text
    for code, _ in exitcodes.TABLE:
        assert re.search(rf"^\s+{code}\s+\S", text, re.MULTILINE), code


def test_usage_errors_exit_4_in_text_and_json():
    runner = CliRunner()
    unknown = runner.invoke(cli, ["list", "--bogus"])
    missing = runner.invoke(cli, ["delete-users", "--csv", "x.csv", "--json"])
    no_command = runner.invoke(cli, ["nope"])

    assert unknown.exit_code == missing.exit_code == no_command.exit_code == exitcodes.USAGE
    assert "Error: No such option '--bogus'." in unknown.stderr
    doc = json.loads(missing.stdout)
    assert doc == {"command": "delete-users", "exitCode": 4, "error": {
        "kind": "usage", "message": "Missing option '--dataset-group-arn'.", "problems": [], "hint": None}}
    assert "No such command 'nope'" in no_command.stderr


def test_options_common_to_every_command_may_come_before_it():
    result = CliRunner().invoke(cli, ["--json", "--region", "eu-west-1", "status", "not-an-arn"])

    assert result.exit_code == exitcodes.USAGE
    assert json.loads(result.stdout)["error"]["message"].startswith("EXECUTION_ARN must be an execution ARN")


def test_main_returns_the_exit_code(capsys):
    assert main(["list"]) == exitcodes.USAGE
    assert "no workflow given" in capsys.readouterr().err
    assert main(["--help"]) == exitcodes.OK
