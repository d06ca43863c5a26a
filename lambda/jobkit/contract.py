"""The names the constructs and the Lambda code must agree on, written once. Pure standard library.

The handlers import this module as ``jobkit.contract``. The construct library
and its CLI load this very file from the Lambda code they ship
(``cdk_ml_data_jobs._contract``), so a name changed here changes on both sides
of the boundary at once; ``tests/template/test_contract.py`` pins the
synthesized templates to it (state names, phases, environment variables,
event source, prefixes).
"""

from __future__ import annotations

# --------------------------------------------------------------------------- workflows and their outcome events

#: The workflows' names: the reporter's ``WORKFLOW`` variable, the outcome events' ``workflow``, the CLI's
#: ``--workflow`` choices.
DATA_DELETION = "data-deletion"
AUDIENCE_EXPORT = "audience-export"
WORKFLOWS = (DATA_DELETION, AUDIENCE_EXPORT)

#: EventBridge source and detail types of the outcome events.
EVENT_SOURCE = "cdk-ml-data-jobs"
DETAIL_TYPES = {DATA_DELETION: "Data Deletion Finished", AUDIENCE_EXPORT: "Audience Export Finished"}

#: Step Functions execution statuses the outcome reporter is invoked for.
TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

# --------------------------------------------------------------------------- the job state machine

#: State names that code outside the definition relies on (the reporter and the CLI read the Validate
#: step's result from the history; operators see these names in the console).
STATE_VALIDATE = "Validate"
STATE_LAUNCH = "Launch"
STATE_WAIT = "WaitForJob"
STATE_CHECK = "CheckJob"
STATE_DECIDE = "Decide"
#: States present only when a workflow's launch may wait (a quiet period) or it follows its job through
#: (the deletion workflow's ``quiet_period_enabled`` / ``retrain_solution_arns``).
STATE_WAIT_TO_LAUNCH = "WaitToLaunch"
STATE_LAUNCH_AGAIN = "LaunchAgain"
STATE_WAIT_FOR_FOLLOW_THROUGH = "WaitForFollowThrough"
STATE_FOLLOW_THROUGH = "FollowThrough"
STATE_DECIDE_FOLLOW_THROUGH = "DecideFollowThrough"

#: The tracker's ``phase``: the launch and poll functions set it, the Decide state branches on it.
PHASE_RUNNING = "RUNNING"
PHASE_SUCCEEDED = "SUCCEEDED"
PHASE_STOPPED = "STOPPED"
#: Wait ``waitSeconds``, then run the launch function again (a busy dataset group; an overlap's second job).
PHASE_WAIT_TO_LAUNCH = "WAIT_TO_LAUNCH"
#: Wait ``waitSeconds``, then run the follow-through function (retraining, campaign updates).
PHASE_FOLLOW_THROUGH = "FOLLOW_THROUGH"

#: Errors of the deletion workflow's steps retried with back-off: Personalize's rate limits and 5-pending-jobs
#: quota, a busy dataset group, throttling, and Personalize or S3 server errors that outlasted the SDK's own
#: retries. The state machine retries them on every task; the follow-through tries them again at its next check.
DELETION_TRANSIENT_ERRORS = ("LimitExceededException", "ResourceInUseException", "ThrottlingException",
                             "InternalFailure", "ServiceUnavailable", "SlowDown", "InternalError")

#: Named errors of the deletion workflow's opt-in steps (the quiet period and the follow-through).
ERROR_DATASET_GROUP_BUSY = "DatasetGroupBusy"
#: the ledger kept being contended (transactions cancelled by conflicts or throttling, batch reads unprocessed):
#: the batch state machine retries Claim and Record on it
ERROR_LEDGER_CONTENDED = "LedgerContended"
ERROR_MODEL_RETRAINING_FAILED = "ModelRetrainingFailed"

# --------------------------------------------------------------------------- S3 layout

DEFAULT_DELETION_PREFIX = "deletions/"
DEFAULT_AUDIT_PREFIX = "audit/"
#: The deletion request queue: request files (inside the deletion prefix, so they expire with it), the batches'
#: user-ID inputs (likewise), and the per-request records (outside it: kept).
DEFAULT_REQUEST_FOLDER = "requests/"
DEFAULT_BATCH_FOLDER = "batches/"
REQUEST_RECORD_FOLDER = "deletion-requests/"

# --------------------------------------------------------------------------- the deletion request queue

#: A request's (and a target's) status in the ledger and in its record.
REQUEST_QUEUED = "QUEUED"
REQUEST_IN_PROGRESS = "IN_PROGRESS"
REQUEST_COMPLETED = "COMPLETED"
REQUEST_FAILED = "FAILED"
REQUEST_REJECTED = "REJECTED"
REQUEST_STATUSES = (REQUEST_QUEUED, REQUEST_IN_PROGRESS, REQUEST_COMPLETED, REQUEST_FAILED, REQUEST_REJECTED)
REQUEST_OPEN_STATUSES = (REQUEST_QUEUED, REQUEST_IN_PROGRESS)

#: The user metadata key (``x-amz-meta-request-id``) that names a request.
REQUEST_ID_METADATA = "request-id"

#: Detail types of the queue's EventBridge events (source ``EVENT_SOURCE``).
REQUEST_REGISTERED = "Deletion Request Registered"
REQUEST_REFUSED = "Deletion Request Refused"
REQUEST_REJECTED_EVENT = "Deletion Request Rejected"
REQUEST_FAILED_EVENT = "Deletion Request Failed"
REQUEST_COMPLETED_EVENT = "Deletion Request Completed"
REQUEST_DETAIL_TYPES = (REQUEST_REGISTERED, REQUEST_REFUSED, REQUEST_REJECTED_EVENT, REQUEST_FAILED_EVENT,
                        REQUEST_COMPLETED_EVENT)

#: The ledger table: key attributes and its two sparse indexes.
LEDGER_PK = "pk"  # the request ID
LEDGER_SK = "sk"  # "REQUEST", or "TARGET#<dataset group ARN>"
LEDGER_REQUEST_ITEM = "REQUEST"
LEDGER_TARGET_PREFIX = "TARGET#"
LEDGER_QUEUED_INDEX = "queued"  # target items while QUEUED: partition queuedGroup, sort receivedAt
LEDGER_QUEUED_GROUP = "queuedGroup"
LEDGER_CLAIMED_INDEX = "claimed"  # target items by the batch part that claimed them last: partition claimedPart
LEDGER_CLAIMED_PART = "claimedPart"
LEDGER_OPEN_INDEX = "open"  # request items while QUEUED or IN_PROGRESS: partition openFlag, sort receivedAt
LEDGER_OPEN_FLAG = "openFlag"
LEDGER_OPEN = "OPEN"  # the value of openFlag
LEDGER_RECEIVED_AT = "receivedAt"
LEDGER_TARGET_GROUPS = "targetGroups"  # on the request item: the dataset groups it has a target in

#: State names of the batch state machine.
STATE_BATCH_GROUPS = "DatasetGroups"
STATE_BATCH_EACH_GROUP = "EachDatasetGroup"
STATE_BATCH_CLAIM = "Claim"
STATE_BATCH_HAS_PARTS = "HasParts"
STATE_BATCH_EACH_PART = "EachPart"
STATE_BATCH_RUN = "RunDeletion"
STATE_BATCH_RUN_CAUGHT = "RunDeletionCaught"
STATE_BATCH_RECORD = "Record"
STATE_BATCH_SUMMARY = "Summarize"

#: CloudWatch metric of the open-request check (namespace, name, unit seconds).
METRIC_NAMESPACE = "cdk-ml-data-jobs"
METRIC_OLDEST_OPEN_REQUEST = "OldestOpenDeletionRequestAge"
METRIC_OPEN_REQUESTS = "OpenDeletionRequests"
METRIC_FAILED_REQUESTS = "FailedDeletionRequests"
METRIC_DIMENSION_NAME = "Queue"  # its value: the ledger table's name

#: A dataset group's status in a batch run's summary.
BATCH_COMPLETED = "COMPLETED"
BATCH_FAILED = "FAILED"
BATCH_PARTIAL = "PARTIAL"
BATCH_NOTHING_QUEUED = "NOTHING_QUEUED"
#: A part whose dataset group stayed busy past the quiet period (``DatasetGroupBusy``): its requests wait, uncounted.
BATCH_BUSY = "BUSY"

# --------------------------------------------------------------------------- environment variables


class Env:
    """Environment variables the constructs set and the handlers read (each function gets only its own)."""

    # polling (launch and poll functions of both workflows)
    POLL_MIN_WAIT_SECONDS = "POLL_MIN_WAIT_SECONDS"
    POLL_MAX_WAIT_SECONDS = "POLL_MAX_WAIT_SECONDS"
    POLL_GROWTH = "POLL_GROWTH"
    JOB_TIMEOUT_SECONDS = "JOB_TIMEOUT_SECONDS"
    # data deletion
    DATA_BUCKET = "DATA_BUCKET"
    DELETION_PREFIX = "DELETION_PREFIX"
    ALLOWED_DATASET_GROUP_ARNS = "ALLOWED_DATASET_GROUP_ARNS"
    TAGS_ALLOWED = "TAGS_ALLOWED"
    DATA_ACCESS_ROLE_ARN = "DATA_ACCESS_ROLE_ARN"
    # data deletion, opt-in: the quiet period (launch) and the follow-through (follow-through function)
    QUIET_PERIOD_TIMEOUT_SECONDS = "QUIET_PERIOD_TIMEOUT_SECONDS"
    CHECK_OVERLAP = "CHECK_OVERLAP"
    RETRAIN_SOLUTION_ARNS = "RETRAIN_SOLUTION_ARNS"
    UPDATE_CAMPAIGNS = "UPDATE_CAMPAIGNS"
    # audience export
    ALLOWED_GENERATION_JOB_ARNS = "ALLOWED_GENERATION_JOB_ARNS"
    NOT_LISTED_GRACE_SECONDS = "NOT_LISTED_GRACE_SECONDS"
    # outcome reporter
    WORKFLOW = "WORKFLOW"
    TOPIC_ARN = "TOPIC_ARN"
    AUDIT_BUCKET = "AUDIT_BUCKET"
    AUDIT_PREFIX = "AUDIT_PREFIX"
    # upload trigger
    UPLOAD_TRIGGERS = "UPLOAD_TRIGGERS"
    STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
    # deletion request queue
    LEDGER_TABLE = "LEDGER_TABLE"
    REQUEST_PREFIX = "REQUEST_PREFIX"
    BATCH_PREFIX = "BATCH_PREFIX"
    RECORD_PREFIX = "RECORD_PREFIX"
    TARGET_DATASET_GROUP_ARNS = "TARGET_DATASET_GROUP_ARNS"
    MAX_BATCH_BYTES = "MAX_BATCH_BYTES"
    MAX_ATTEMPTS = "MAX_ATTEMPTS"
    PENDING_JOB_LIMIT = "PENDING_JOB_LIMIT"
    METRIC_DIMENSION = "METRIC_DIMENSION"


#: ``TAGS_ALLOWED``, ``CHECK_OVERLAP`` and ``UPDATE_CAMPAIGNS`` values.
TRUE, FALSE = "true", "false"
