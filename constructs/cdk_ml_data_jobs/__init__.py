"""cdk-ml-data-jobs: AWS CDK v2 constructs that run long AWS ML data jobs as Step Functions workflows.

- :class:`JobDataBucket`: the secure S3 bucket for the jobs' data.
- :class:`PersonalizeDataAccessRole`: the role Amazon Personalize assumes to read user-ID files.
- :class:`DataDeletionWorkflow`: Amazon Personalize data deletion (CreateDataDeletionJob).
- :class:`AudienceExportWorkflow`: AWS Clean Rooms ML audience export (StartAudienceExportJob).
- :class:`DeletionRequestQueue`: erasure requests batched into few data deletion jobs, in every dataset
  group, within Personalize's quota, with a record per request.
- :class:`NotificationTopic`, :class:`JobOutcomeReporter`, :class:`WorkflowAlarms`,
  :class:`DeletionUploadTrigger`: operating them.
- :class:`FunctionOptions`: the runtime and log settings every function of a construct shares.
- :class:`JobStateMachine`, :class:`JobFunction`, :class:`TransientRetry`: the building blocks of the workflows.
- :class:`PropsError`: what every construct raises for invalid props (all problems at once).
- :func:`normalize_template`: make a synthesized template stable for snapshot tests.

Names are imported on first use, so the pure-Python tools in this package
(``cdk_ml_data_jobs.cli``, ``.summary``, ``.diagrams``) start without loading
aws-cdk-lib and its Node.js runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "EVENT_SOURCE": "._contract",
    "AudienceExportWorkflow": ".audience_export_workflow",
    "DataDeletionWorkflow": ".data_deletion_workflow",
    "DeletionRequestQueue": ".deletion_request_queue",
    "DeletionUploadTrigger": ".deletion_upload_trigger",
    "FunctionOptions": ".function_options",
    "JobDataBucket": ".job_data_bucket",
    "JobFunction": ".job_function",
    "JobOutcomeReporter": ".job_outcome_reporter",
    "JobStateMachine": ".job_state_machine",
    "NotificationTopic": ".notification_topic",
    "PersonalizeDataAccessRole": ".personalize_data_access_role",
    "PropsError": ".errors",
    "TransientRetry": ".job_state_machine",
    "WorkflowAlarms": ".workflow_alarms",
    "normalize_template": ".snapshot",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from ._contract import EVENT_SOURCE
    from .audience_export_workflow import AudienceExportWorkflow
    from .data_deletion_workflow import DataDeletionWorkflow
    from .deletion_request_queue import DeletionRequestQueue
    from .deletion_upload_trigger import DeletionUploadTrigger
    from .errors import PropsError
    from .function_options import FunctionOptions
    from .job_data_bucket import JobDataBucket
    from .job_function import JobFunction
    from .job_outcome_reporter import JobOutcomeReporter
    from .job_state_machine import JobStateMachine, TransientRetry
    from .notification_topic import NotificationTopic
    from .personalize_data_access_role import PersonalizeDataAccessRole
    from .snapshot import normalize_template
    from .workflow_alarms import WorkflowAlarms


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
