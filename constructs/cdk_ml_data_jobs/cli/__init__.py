"""``ml-data-jobs``: the operator CLI of cdk-ml-data-jobs (install the ``cli`` extra).

Modules, one concern each:

- :mod:`.csvcheck`: the local check of a user-ID CSV (the server-side pre-flight's rules).
- :mod:`.payloads`: the execution inputs of both workflows, and their local checks.
- :mod:`.aws`: boto3 clients (created at command time), targets (stack outputs or the
  deployed state machine), upload, start, describe and list executions.
- :mod:`.follow`: following an execution until it ends.
- :mod:`.render`: text (rich) and ``--json`` output.
- :mod:`.exitcodes`: exit codes and the errors that carry them.
- :mod:`.commands`: the click commands.

Only :mod:`.render` and :mod:`.commands` import click or rich; importing
``cdk_ml_data_jobs`` imports neither, and neither does this module.
"""

from __future__ import annotations

from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console-script entry point: run the CLI and return its exit code."""
    from .commands import cli

    return cli.main(args=list(argv) if argv is not None else None, prog_name="ml-data-jobs", standalone_mode=False)
