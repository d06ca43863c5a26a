"""The ARN shapes the workflows accept, written once. Pure standard library.

Used by the Validate functions and, loaded from the shipped Lambda code, by the
operator CLI's local checks (``cdk_ml_data_jobs.cli.payloads``), so both accept
the same ARNs and name the same expected form.
"""

from __future__ import annotations

import re

DATASET_GROUP_ARN = re.compile(
    r"arn:aws[a-z-]*:personalize:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):dataset-group/[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
)
DATASET_GROUP_FORM = "arn:aws:personalize:REGION:ACCOUNT:dataset-group/NAME"

GENERATION_JOB_ARN = re.compile(
    r"arn:aws[-a-z]*:cleanrooms-ml:(?P<region>[-a-z0-9]+):(?P<account>[0-9]{12}):audience-generation-job/[-a-zA-Z0-9_/.]+"
)
GENERATION_JOB_FORM = "arn:aws:cleanrooms-ml:REGION:ACCOUNT:audience-generation-job/ID"
