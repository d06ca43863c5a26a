"""The ARN shapes the workflows accept, written once. Pure standard library.

Used by the Validate functions and, loaded from the shipped Lambda code, by the
operator CLI's local checks (``cdk_ml_data_jobs.cli.payloads``), so both accept
the same ARNs and name the same expected form.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Sequence

DATASET_GROUP_ARN = re.compile(
    r"arn:aws[a-z-]*:personalize:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):dataset-group/[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
)
DATASET_GROUP_FORM = "arn:aws:personalize:REGION:ACCOUNT:dataset-group/NAME"
DATASET_GROUP = f"a dataset group ARN: {DATASET_GROUP_FORM}"

SOLUTION_ARN = re.compile(
    r"arn:aws[a-z-]*:personalize:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):solution/[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
)
SOLUTION_FORM = "arn:aws:personalize:REGION:ACCOUNT:solution/NAME"

GENERATION_JOB_ARN = re.compile(
    r"arn:aws[-a-z]*:cleanrooms-ml:(?P<region>[-a-z0-9]+):(?P<account>[0-9]{12}):audience-generation-job/[-a-zA-Z0-9_/.]+"
)
GENERATION_JOB_FORM = "arn:aws:cleanrooms-ml:REGION:ACCOUNT:audience-generation-job/ID"
GENERATION_JOB = f"an audience generation job ARN: {GENERATION_JOB_FORM}"


def problems(field: str, arn: str, shape: re.Pattern[str], form: str, *, region: str | None,
             allowed: Sequence[str], allowed_as: str) -> list[str]:
    """Why ``arn`` (the input's ``field``) is not acceptable: not of ``shape``, in another Region than the
    workflow's, or outside the ``allowed`` patterns (``*`` wildcards). ``form`` shows the expected shape and
    ``allowed_as`` says what the allowed ARNs are."""
    match = shape.fullmatch(arn)
    if not match:
        return [f"{field} must be {form}"]
    found = []
    if region and match["region"] != region:
        found.append(f"{field} is in Region {match['region']}; this workflow runs in {region}")
    if not any(fnmatch.fnmatchcase(arn, pattern) for pattern in allowed):
        found.append(f"{field} is not one of {allowed_as}")
    return found
