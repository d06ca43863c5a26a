"""Packaging: the source layout, the wheel's contents, and the wheel working in a fresh venv outside this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DIR = ROOT / "lambda"
PACKAGE_DIR = ROOT / "constructs" / "cdk_ml_data_jobs"


def _lambda_modules() -> list[str]:
    """Every Python file of the Lambda code, relative to lambda/ (interpreter caches excluded)."""
    return sorted(p.relative_to(LAMBDA_DIR).as_posix() for p in LAMBDA_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _lambda_files() -> list[str]:
    """Every file a code asset of lambda/ must carry (no interpreter caches, no dotfiles)."""
    return sorted(p.relative_to(LAMBDA_DIR).as_posix() for p in LAMBDA_DIR.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
                  and not any(part.startswith(".") for part in p.relative_to(LAMBDA_DIR).parts))


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


# --------------------------------------------------------------------------- source layout


def test_constructs_is_the_pypi_package_not_the_source_folder():
    import constructs

    location = Path(constructs.__file__).resolve()
    assert "site-packages" in location.parts, location
    assert not location.is_relative_to(ROOT / "constructs"), location
    assert not (ROOT / "constructs" / "__init__.py").exists(), "constructs/ must stay a plain source root"


def test_constructs_resolves_to_pypi_even_with_the_project_root_first_on_sys_path(tmp_path):
    """The source root is named ``constructs`` like the CDK dependency: it must never shadow it."""
    probe = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import constructs; print(constructs.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    location = Path(done.stdout.strip().splitlines()[-1]).resolve()
    assert "site-packages" in location.parts, location


def test_lambda_code_dir_finds_the_checkout_lambda_folder():
    from cdk_ml_data_jobs._assets import lambda_code_dir

    assert lambda_code_dir().resolve() == LAMBDA_DIR.resolve()
    assert (lambda_code_dir() / "jobkit" / "__init__.py").is_file()


# --------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                          cwd=out, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (built,) = out.glob("cdk_ml_data_jobs-*.whl")
    return built


def test_wheel_carries_the_package_the_lambda_code_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cdk_ml_data_jobs/py.typed" in names
    assert "cdk_ml_data_jobs/_lambda/jobkit/__init__.py" in names
    for module in _lambda_modules():
        assert f"cdk_ml_data_jobs/_lambda/{module}" in names, module
    for source in PACKAGE_DIR.glob("*.py"):
        assert f"cdk_ml_data_jobs/{source.name}" in names, source.name
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("tests/", "app.py", "lambda/", "constructs/"))]


def test_wheel_holds_nothing_of_the_iam_simulator(wheel):
    """@cloud-copilot/iam-simulate and iam-data (AGPL-3.0) are dev-only Node tools the tests run as a
    separate process: nothing of them, nor the script that runs them, ships in the wheel."""
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    assert not [n for n in names if "cloud-copilot" in n or "iam-simulate" in n or "iam-data" in n
                or "node_modules" in n or n.endswith((".mjs", ".js"))]
    for name in names:  # no code of the library or its functions refers to it (the README in METADATA may)
        if name.endswith(".py"):
            text = archive.read(name).decode("utf-8", errors="replace")
            assert "iam-simulate" not in text and "@cloud-copilot" not in text and "simulate.mjs" not in text, name


# --------------------------------------------------------------------------- a consumer outside the checkout

CONSUMER_APP = textwrap.dedent('''
    """A library user's app: every public construct, installed from the wheel."""
    import json
    import sys

    import aws_cdk as cdk
    import constructs

    import cdk_ml_data_jobs
    from cdk_ml_data_jobs import AudienceExportWorkflow, DataDeletionWorkflow, JobDataBucket, PersonalizeDataAccessRole
    from cdk_ml_data_jobs._assets import lambda_code_dir

    app = cdk.App()
    stack = cdk.Stack(app, "Consumer")
    data = JobDataBucket(stack, "Data")
    access = PersonalizeDataAccessRole(stack, "Access", bucket=data.bucket)
    DataDeletionWorkflow(stack, "Deletion", bucket=data.bucket, data_access_role=access.role)
    AudienceExportWorkflow(stack, "Export")
    app.synth()
    print(json.dumps({
        "package": cdk_ml_data_jobs.__file__,
        "constructs": constructs.__file__,
        "lambda_code_dir": str(lambda_code_dir()),
        "sys_path": sys.path,
        "template": stack.artifact_id + ".template.json",
    }))
''')


@pytest.fixture(scope="module")
def consumer(wheel, tmp_path_factory):
    """Install the wheel into a fresh venv (aws-cdk-lib borrowed from the project venv via a .pth) and synth."""
    work = tmp_path_factory.mktemp("consumer")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        cwd=work, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               cwd=work, env=_clean_env(), capture_output=True, text=True, check=True).stdout.strip())
    # aws-cdk-lib, constructs and jsii (~440 MB) come from the project venv instead of a second download. A .pth
    # line only appends that folder to sys.path: its own .pth files (the editable install's) are not processed.
    (site / "_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    app_dir = work / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(CONSUMER_APP)
    out = work / "cdk.out"
    done = subprocess.run([str(python), "app.py"], cwd=app_dir, env=_clean_env(CDK_OUTDIR=str(out)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"venv": venv, "site": site, "out": out, "report": report}


def test_consumer_imports_the_installed_wheel_not_the_checkout(consumer):
    report = consumer["report"]
    package = Path(report["package"]).resolve()
    assert package.is_relative_to(consumer["venv"].resolve()), package
    assert not package.is_relative_to(ROOT), package
    assert Path(report["lambda_code_dir"]).resolve() == (consumer["site"] / "cdk_ml_data_jobs" / "_lambda").resolve()
    for entry in report["sys_path"]:
        assert Path(entry or ".").resolve() not in (ROOT.resolve(), (ROOT / "constructs").resolve()), entry
    assert "site-packages" in Path(report["constructs"]).parts


def test_consumer_cloud_assembly_carries_the_handler_modules(consumer, sample_template_json):
    out = consumer["out"]
    template = json.loads((out / consumer["report"]["template"]).read_text())
    keys = {r["Properties"]["Code"]["S3Key"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"}
    assert len(keys) == 1, keys  # one code asset shared by the six functions
    (key,) = keys
    asset = out / f"asset.{key.removesuffix('.zip')}"
    assert asset.is_dir(), sorted(p.name for p in out.iterdir())
    shipped = sorted(p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file())
    assert shipped == _lambda_files()
    assert set(_lambda_modules()) <= set(shipped) and "jobkit/__init__.py" in shipped
    assert not [p for p in asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    # the installed wheel's code is byte-for-byte the checkout's: same asset hash as the sample app's
    sample_keys = {r["Properties"]["Code"]["S3Key"] for r in sample_template_json["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function"}
    assert sample_keys == {key}
