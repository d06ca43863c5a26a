"""Shared fixtures for every tier.

Synthesis is expensive (3–4 s of jsii start-up per process, then 0.1–0.3 s per
stack), so the sample app is synthesized once per test session and shared.
Apps are built with the feature flags pinned in cdk.json, like `cdk synth`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
sys.dont_write_bytecode = True  # keep __pycache__ out of lambda/ (asset hashes)


def cdk_json_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@pytest.fixture(scope="session")
def make_app() -> Callable[..., Any]:
    """``make_app(**context)``: a fresh cdk.App with cdk.json's pinned feature flags."""
    import aws_cdk as cdk

    def make(**context: Any) -> cdk.App:
        return cdk.App(context={**cdk_json_context(), **context})

    return make


@pytest.fixture(scope="session")
def sample_stack(make_app):
    """The sample app's stack, synthesized once."""
    sys.path.insert(0, str(ROOT))
    import app as sample_app

    app = make_app()
    stack = sample_app.build(app)
    return stack


@pytest.fixture(scope="session")
def sample_template(sample_stack):
    from aws_cdk.assertions import Template

    return Template.from_stack(sample_stack)


@pytest.fixture(scope="session")
def sample_template_json(sample_template) -> dict[str, Any]:
    return sample_template.to_json()


@pytest.fixture(scope="session")
def local_sample_template(make_app) -> Callable[..., dict[str, Any]]:
    """``local_sample_template(**context)``: the sample app's template for a local run (construct and asset
    paths in its metadata, assets pointing at the code folder), synthesized once per context."""
    from aws_cdk.assertions import Template

    from tests.harness.assembly import LOCAL_CONTEXT

    sys.path.insert(0, str(ROOT))
    import app as sample_app

    made: dict[tuple, dict[str, Any]] = {}

    def template(**context: Any) -> dict[str, Any]:
        key = tuple(sorted(context.items()))
        if key not in made:
            made[key] = Template.from_stack(sample_app.build(make_app(**LOCAL_CONTEXT, **context))).to_json()
        return made[key]

    return template


@pytest.fixture(scope="session")
def local_template(local_sample_template) -> dict[str, Any]:
    """The sample app as deployed by default, for the local harness (shared by the e2e and CLI tiers)."""
    return local_sample_template()


@pytest.fixture(scope="session")
def optional_iam_simulator():
    """One IAM policy simulator process (tests/iam/simulate.mjs, @cloud-copilot/iam-simulate) for the
    session, shared by the IAM tier, the end-to-end tier's per-test evaluation and the deploy tier;
    None without Node or node_modules (a failure under CI, where `make test` installs them)."""
    from tests.harness.iam_evaluation import Simulator, available

    problem = available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the IAM simulator cannot run: {problem}")
        yield None
        return
    simulator = Simulator()
    yield simulator
    simulator.close()


@pytest.fixture(scope="session")
def iam_simulator(optional_iam_simulator):
    if optional_iam_simulator is None:
        from tests.harness.iam_evaluation import available

        pytest.skip(f"the IAM simulator cannot run: {available()}")
    return optional_iam_simulator
