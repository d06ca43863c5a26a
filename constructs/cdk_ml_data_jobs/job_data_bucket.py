"""JobDataBucket: the S3 bucket that holds the jobs' input files."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ._checks import checkov_skip, checkov_skips, nag_acknowledge
from ._contract import DEFAULT_DELETION_PREFIX
from .errors import PropsError

_ACCESS_LOGS_PREFIX = "job-data-bucket/"

# Overrides that would break a security default or Personalize's requirements.
_LOCKED_OVERRIDES = {
    "encryption": "Personalize does not accept a customer KMS key on the bucket that holds user-ID files; "
    "the bucket uses SSE-S3",
    "encryption_key": "Personalize does not accept a customer KMS key on the bucket that holds user-ID files",
    "block_public_access": "public access is always blocked",
    "public_read_access": "public access is always blocked",
    "enforce_ssl": "TLS is always enforced",
    "versioned": "versioning is always on",
    "server_access_logs_bucket": "use the server_access_logs_bucket prop",
    "removal_policy": "use the removal_policy prop",
    "auto_delete_objects": "use the auto_delete_objects prop",
}


def validate_prefix(name: str, value: str) -> Optional[str]:
    """Problem with an S3 key prefix prop, or None."""
    if not value or not value.endswith("/") or value.startswith("/") or "*" in value:
        return f"{name} must be a key prefix like 'deletions/' (ends with '/', no leading '/', no '*')"
    return None


class JobDataBucket(Construct):
    """The S3 bucket for the jobs' data, secure by default.

    Defaults: all public access blocked, TLS enforced, SSE-S3 encryption
    (Personalize does not accept a customer KMS key on the bucket that holds the
    user-ID files), versioning, server access logs to a separate log bucket, and
    a lifecycle rule that removes the user-ID files under ``deletion_prefix``
    (current and previous versions) after ``deletion_file_retention``.

    Bring your own bucket with ``bucket`` (then nothing is created), or adjust
    the created bucket with ``bucket_props`` (mutually exclusive).

    Attributes: ``bucket`` (the bucket used, created or yours), ``log_bucket``
    (the access-log bucket, when one was created or given), ``deletion_prefix``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: Optional[s3.IBucket] = None,
        bucket_props: Optional[s3.BucketProps] = None,
        deletion_prefix: str = DEFAULT_DELETION_PREFIX,
        deletion_file_retention: Optional[Duration] = None,
        server_access_logs_bucket: Optional[s3.IBucket] = None,
        access_log_retention: Optional[Duration] = None,
        removal_policy: Optional[RemovalPolicy] = None,
        auto_delete_objects: bool = False,
    ) -> None:
        """
        :param bucket: a bucket you already have (any ``IBucket``). Default:
            none, a bucket is created. Excludes every prop that shapes a
            created bucket.
        :param bucket_props: overrides for the created bucket (name, lifecycle
            rules, CORS, ...). Default: none. Props that would weaken a security
            default (encryption, public access, TLS, versioning) are refused.
        :param deletion_prefix: key prefix of the user-ID files. Default
            ``"deletions/"``.
        :param deletion_file_retention: how long a user-ID file is kept before
            the lifecycle rule expires it; previous versions are removed one day
            after that. Default 14 days. Applies to a created bucket only.
        :param server_access_logs_bucket: where server access logs go. Default:
            a separate log bucket is created.
        :param access_log_retention: expiry of the created log bucket's objects.
            Default 365 days.
        :param removal_policy: what happens to the buckets when the stack
            deletes them. Default ``RemovalPolicy.RETAIN``; use ``DESTROY`` for
            dev stacks only.
        :param auto_delete_objects: empty the buckets on stack deletion (adds a
            CDK custom resource). Default False; requires ``removal_policy=DESTROY``.
        """
        super().__init__(scope, id)
        overrides: dict[str, Any] = dict(bucket_props._values) if bucket_props is not None else {}
        byo_problems = _byo_bucket_problems(
            bucket, bucket_props=bucket_props, server_access_logs_bucket=server_access_logs_bucket,
            removal_policy=removal_policy, auto_delete_objects=auto_delete_objects or None,
            deletion_file_retention=deletion_file_retention, access_log_retention=access_log_retention)
        removal_policy = removal_policy or RemovalPolicy.RETAIN
        deletion_file_retention = deletion_file_retention or Duration.days(14)
        access_log_retention = access_log_retention or Duration.days(365)
        problems = [
            *byo_problems,
            *[f"bucket_props.{key}: {why}" for key, why in _LOCKED_OVERRIDES.items() if key in overrides],
            *filter(None, [validate_prefix("deletion_prefix", deletion_prefix)]),
            *_retention_problems(removal_policy, auto_delete_objects, deletion_file_retention),
        ]
        if problems:
            raise PropsError("JobDataBucket", problems)

        self.deletion_prefix = deletion_prefix
        self.log_bucket: Optional[s3.IBucket] = server_access_logs_bucket
        if bucket is not None:
            self.bucket: s3.IBucket = bucket
            return
        log_target = server_access_logs_bucket
        if log_target is None:
            self.log_bucket, log_target = self._create_log_bucket(access_log_retention, removal_policy,
                                                                  auto_delete_objects)
        created = self._create_data_bucket(overrides, log_target, deletion_prefix, deletion_file_retention,
                                           removal_policy, auto_delete_objects)
        if server_access_logs_bucket is None:
            self._grant_log_delivery(created)
        self.bucket = created
        refuse_unreadable_user_id_files(created, deletion_prefix)
        if auto_delete_objects:
            _skip_auto_delete_provider_checks(Stack.of(self))

    def _create_log_bucket(self, retention: Duration, removal_policy: RemovalPolicy,
                           auto_delete_objects: bool) -> tuple[s3.Bucket, s3.IBucket]:
        """The access-log bucket, and the imported reference the data bucket logs to."""
        log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=retention,
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete_objects,
        )
        nag_acknowledge(
            log_bucket,
            "AwsSolutions-S1",
            "This is the server access log bucket of the job data bucket; logging it into itself "
            "would loop and logging it elsewhere only moves the question.",
        )
        checkov_skips(log_bucket, [
            ("CKV_AWS_18", "This is the server access log bucket itself."),
            ("CKV_AWS_145", "S3 server access logging only supports SSE-S3 on the target bucket."),
        ])
        # Referenced as an imported bucket so that CDK does not grant log delivery itself (its choice between
        # ACL and bucket policy depends on a feature flag); _grant_log_delivery adds it, independent of flags.
        target = s3.Bucket.from_bucket_attributes(
            self, "AccessLogsTarget", bucket_name=log_bucket.bucket_name, bucket_arn=log_bucket.bucket_arn)
        return log_bucket, target

    def _create_data_bucket(self, overrides: dict[str, Any], log_target: s3.IBucket, deletion_prefix: str,
                            deletion_file_retention: Duration, removal_policy: RemovalPolicy,
                            auto_delete_objects: bool) -> s3.Bucket:
        """The data bucket: the secure defaults, the user-ID lifecycle rules, then the caller's overrides."""
        defaults: dict[str, Any] = dict(
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_target,
            server_access_logs_prefix=_ACCESS_LOGS_PREFIX,
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete_objects,
        )
        lifecycle = [
            s3.LifecycleRule(
                id="expire-user-id-files",
                prefix=deletion_prefix,
                expiration=deletion_file_retention,
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            ),
            s3.LifecycleRule(id="expire-delete-markers", expired_object_delete_marker=True),
            *(overrides.pop("lifecycle_rules", None) or []),
        ]
        bucket = s3.Bucket(self, "Bucket", **{**defaults, **overrides, "lifecycle_rules": lifecycle})
        checkov_skip(
            bucket,
            "CKV_AWS_145",
            "Personalize does not accept a customer KMS key on the bucket that holds the user-ID files; SSE-S3 is used.",
        )
        return bucket

    def _grant_log_delivery(self, bucket: s3.Bucket) -> None:
        """Let S3's log delivery write the data bucket's access logs into the created log bucket."""
        Annotations.of(bucket).acknowledge_warning(
            "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
            "The log delivery grant is added explicitly to the created log bucket's policy below.",
        )
        assert self.log_bucket is not None
        self.log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3ServerAccessLogsFromJobDataBucket",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.log_bucket.arn_for_objects(f"{_ACCESS_LOGS_PREFIX}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )


def _byo_bucket_problems(bucket: Optional[s3.IBucket], **shaping: Any) -> list[str]:
    """With ``bucket`` given, every prop that shapes a created bucket is a mistake (``shaping``: name → value
    given, None when omitted)."""
    if bucket is None:
        return []
    return [f"{name} cannot be combined with bucket (it shapes a bucket this construct creates)"
            for name, value in shaping.items() if value is not None]


def _retention_problems(removal_policy: RemovalPolicy, auto_delete_objects: bool,
                        deletion_file_retention: Duration) -> list[str]:
    found = []
    if auto_delete_objects and removal_policy != RemovalPolicy.DESTROY:
        found.append("auto_delete_objects requires removal_policy=RemovalPolicy.DESTROY")
    if deletion_file_retention.to_days() < 1:
        found.append("deletion_file_retention must be at least one day")
    return found


#: Upload conditions under which Personalize could not read a user-ID file (README, "What the pre-flight
#: checks"): the bucket policy refuses such an upload under the deletion prefix. Condition keys of
#: s3:PutObject in the Service Authorization Reference for Amazon S3; they also govern CopyObject
#: and CreateMultipartUpload into the prefix. No header (the bucket's default SSE-S3) or AES256 passes.
UNREADABLE_UPLOADS = {
    "DenyKmsEncryptedUserIdFiles": {"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]}},
    "DenyCustomerKeyUserIdFiles": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
    "DenyArchivedUserIdFiles": {"StringEquals": {"s3:x-amz-storage-class": ["GLACIER", "DEEP_ARCHIVE"]}},
}


def refuse_unreadable_user_id_files(bucket: s3.Bucket, deletion_prefix: str) -> None:
    """Deny uploads under ``deletion_prefix`` that Personalize could not read: SSE-KMS or DSSE-KMS
    encryption, a customer-provided key (SSE-C), an archive storage class (the pre-flight would reject
    them; refusing them at upload time says so sooner). A Content-Encoding has no condition key."""
    for sid, conditions in UNREADABLE_UPLOADS.items():
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid=sid, effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()], actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{deletion_prefix}*")], conditions=conditions,
        ))


def _skip_auto_delete_provider_checks(stack: Stack) -> None:
    """Reasoned checkov skips on the function CDK adds to empty buckets on deletion (dev stacks only)."""
    provider = stack.node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
    handler = provider.node.try_find_child("Handler") if provider is not None else None
    if handler is None:
        return
    checkov_skips(handler, [
        ("CKV_AWS_115", "CDK's bucket-emptying function runs only on stack deletion (opt-in dev setting)."),
        ("CKV_AWS_116", "Invoked synchronously by CloudFormation, which reports its failures."),
        ("CKV_AWS_117", "Calls only the public S3 endpoint."),
    ])
