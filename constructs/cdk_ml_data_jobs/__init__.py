"""cdk-ml-data-jobs: AWS CDK v2 constructs that run long AWS ML data jobs as Step Functions workflows.

- :class:`JobDataBucket`: the secure S3 bucket for the jobs' data.
- :class:`PersonalizeDataAccessRole`: the role Amazon Personalize assumes to read user-ID files.
- :class:`DataDeletionWorkflow`: Amazon Personalize data deletion (CreateDataDeletionJob).
- :class:`AudienceExportWorkflow`: AWS Clean Rooms ML audience export (StartAudienceExportJob).
- :func:`normalize_template`: make a synthesized template stable for snapshot tests.
"""

from ._checks import PropsError
from .audience_export_workflow import AudienceExportWorkflow
from .data_deletion_workflow import DataDeletionWorkflow
from .deletion_upload_trigger import DeletionUploadTrigger
from .job_data_bucket import JobDataBucket
from .job_function import JobFunction
from .job_outcome_reporter import EVENT_SOURCE, JobOutcomeReporter
from .job_state_machine import JobStateMachine, TransientRetry
from .notification_topic import NotificationTopic
from .personalize_data_access_role import PersonalizeDataAccessRole
from .snapshot import normalize_template
from .workflow_alarms import WorkflowAlarms

__all__ = [
    "EVENT_SOURCE",
    "AudienceExportWorkflow",
    "DataDeletionWorkflow",
    "DeletionUploadTrigger",
    "JobDataBucket",
    "JobFunction",
    "JobOutcomeReporter",
    "JobStateMachine",
    "NotificationTopic",
    "PersonalizeDataAccessRole",
    "PropsError",
    "TransientRetry",
    "WorkflowAlarms",
    "normalize_template",
]
__version__ = "0.1.0"
