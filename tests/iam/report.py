"""``make iam-report``: the IAM evaluation as a table (principal, action, resource, decision, decisive
statement): every AWS call the scenarios' handlers made with what services do in their name, the
service principals' paths, and the requests that must be refused.

    python -m tests.iam.report

Synthesizes the sample app with an upload trigger, runs ``tests/iam/scenarios.py`` in the in-process
harness and evaluates with the IAM simulator (``tests/iam/simulate.mjs``); exits 1 when anything is
not as expected.
"""

from __future__ import annotations

import logging
import os
import sys

from tests.harness import iam_evaluation as iam


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.dont_write_bytecode = True
    logging.disable(logging.ERROR)  # moto's interpreter logs each failed execution the scenarios expect
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from tests.conftest import ROOT, cdk_json_context
    from tests.harness.assembly import LOCAL_CONTEXT, Resolver

    from . import scenarios

    sys.path.insert(0, str(ROOT))
    import app as sample_app

    problem = iam.available()
    if problem:
        print(f"the IAM simulator cannot run: {problem}", file=sys.stderr)
        return 2
    app = cdk.App(context={**cdk_json_context(), **LOCAL_CONTEXT, **scenarios.CONTEXT})
    template = Template.from_stack(sample_app.build(app)).to_json()
    recording = scenarios.record(template)
    simulator = iam.Simulator()
    try:
        decisions = scenarios.evaluate_all(simulator, recording)
        policies = iam.Policies(template, Resolver(template))
        decisions += iam.evaluate(simulator, scenarios.refusals(policies), policies.account)
    finally:
        simulator.close()
    print(iam.table(decisions))
    failed = iam.failures(decisions)
    print(f"\n{len(recording.calls)} recorded calls, {len(decisions)} requests evaluated "
          f"({sum(d.allowed for d in decisions)} allowed), {len(failed)} not as expected")
    if failed:
        print(iam.failure_report(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
