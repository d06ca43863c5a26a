"""deploy tier: the sample app deployed for real, with the pinned CDK CLI, into a local AWS emulator.

Scope
    What ``make local`` does, as tests: the emulator (``tests/harness/server.py``: moto's
    server on 127.0.0.1 and a free port, with the deployed state machines executing and the
    deployed Lambda code running in-process) is started once per session; the CLI
    (``node_modules/.bin/cdk``) synthesizes the sample app with ``make local``'s context
    (``tests/harness/local_deploy.LOCAL_CONTEXT``: ``destroyOnRemoval``, the request queue across two
    dataset groups, the quiet period, the retraining of one solution),
    bootstraps ``aws://123456789012/us-east-1`` and deploys it (``--method=direct``). The tests
    then read the deployed resources back through the emulator's AWS APIs (stack outputs,
    bucket, data access role, functions, both state machines), run one happy and failing
    executions of each workflow and one request-queue batch (plus the operator CLI's ``requests``
    commands) through the deployed state machines (Personalize data deletion
    and Clean Rooms ML answered by the same fakes as the end-to-end tier, scripted through the
    emulator's ``/_local/`` endpoint, on the emulator's virtual clock), check the emulator
    listens on loopback only, and finally ``cdk destroy`` the stack and stop the emulator.

Isolation
    Dummy credentials, empty AWS config files, ``AWS_ENDPOINT_URL`` on the emulator; nothing
    leaves loopback (the emulator refuses other addresses itself). The CLI cache goes to
    ``CDK_HOME`` (the project's ``.cdk`` by default).

Clean-up
    The package-scoped fixture stops the emulator and removes its temporary folder even when a test
    fails (the emulator also stops by itself if this process dies). On failure the emulator
    and CLI logs are copied to ``.local/deploy-tier-logs/`` first.

IAM
    The emulator enforces no IAM (it evaluates no policies and does not apply bucket policies).
    Instead it records every AWS call the deployed handlers make (``<state dir>/aws-calls.jsonl``),
    and a test evaluates them with the IAM simulator against the deployed template, intrinsics
    resolved with the names the deployment gave (see tests/iam for what that proves).

What it does not prove
    The real services' behaviour (Personalize and Clean Rooms ML are our fakes), the Lambda runtime
    (handlers run under this Python, without timeouts), stack updates (local deploys are
    create-only). The template tier and the end-to-end tier cover what they can of those.

Cost
    One synth plus bootstrap and deploy (~10 s on the project's 2-core machine), about a
    second per execution.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.harness.lambda_runtime import environ
from tests.harness.local_deploy import CDK, ROOT, STATE_ROOT, Cdk, EmulatorProcess, LocalRunError, start_and_synth
from tests.harness.server import FORBIDDEN_VARIABLES, isolated_environment


@dataclass
class Deployment:
    emulator: EmulatorProcess
    cdk: Cdk
    outputs: dict[str, str]


@pytest.fixture(scope="package")
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    if not CDK.is_file():
        message = f"{CDK.relative_to(ROOT)} is missing: `make test` installs it (node_modules/.installed)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    state_dir = Path(tempfile.mkdtemp(prefix="cdk-ml-deploy-tier-"))
    emulator = None
    hidden = {k: os.environ.pop(k) for k in list(os.environ) if k in FORBIDDEN_VARIABLES}
    try:
        with environ(isolated_environment(state_dir)):  # boto3 in this process reads no real configuration
            emulator, cdk = start_and_synth(state_dir, say=lambda _: None)
            try:
                cdk.bootstrap()
                outputs = cdk.deploy()
            except LocalRunError as error:
                pytest.fail(f"deploying the sample app into the emulator failed: {error}\n{emulator.log_tail()}")
            yield Deployment(emulator, cdk, outputs)
    finally:
        if emulator is not None:
            emulator.stop()
        if request.session.testsfailed:
            keep = STATE_ROOT / "deploy-tier-logs"
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir(parents=True)
            for name in ("server.log", "cdk.log"):
                if (state_dir / name).is_file():
                    shutil.copy(state_dir / name, keep / name)
            print(f"\ndeploy tier: emulator and CLI logs kept in {keep}")
        shutil.rmtree(state_dir, ignore_errors=True)
        os.environ.update(hidden)
