"""Run the synthesized state machines locally: moto's ASL interpreter, the real
handler code in-process, S3 in moto, and faithful fakes of the two services moto
lacks (Personalize data deletion, Clean Rooms ML), all on a virtual clock.

Used by the end-to-end tier (tests/e2e) and the benchmark (tests/bench).

The same pieces also run inside a local AWS emulator that the sample app is
really deployed into with the CDK CLI: ``server.py`` (moto's server on
127.0.0.1), ``local_deploy.py`` (``make local``, ``make local-up``/``local-down``)
and the deploy tier (tests/deploy). ``lambda_runtime.py`` holds what the
in-process harness and the emulator share.

Both record every AWS call the handlers make (``aws_calls.py``); ``iam_evaluation.py``
evaluates such recordings against a template's policies with the IAM simulator (tests/iam).
"""
