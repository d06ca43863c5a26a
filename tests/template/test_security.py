"""Security properties of JobDataBucket and PersonalizeDataAccessRole, asserted on synthesized templates."""

from __future__ import annotations

import pytest
import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from cdk_ml_data_jobs import JobDataBucket, PersonalizeDataAccessRole, PropsError

from .helpers import actions, as_list, logical_id, policies_of_role, props, render, resource_strings, resources, role_statements

IMPORTED_BUCKET_NAME = "my-existing-bucket"


# --------------------------------------------------------------------------- stacks (one App each, built once)


@pytest.fixture(scope="module")
def default(synth_stack):
    """JobDataBucket with defaults, and a PersonalizeDataAccessRole on it."""

    def build(stack):
        data = JobDataBucket(stack, "Data")
        access = PersonalizeDataAccessRole(stack, "Access", bucket=data.bucket)
        return {"data": data, "access": access}

    return synth_stack("SecurityDefault", build)


@pytest.fixture(scope="module")
def destroy(synth_stack):
    """JobDataBucket for a dev stack: DESTROY, auto-delete, a custom prefix and retention."""

    def build(stack):
        return {"data": JobDataBucket(stack, "Data", removal_policy=cdk.RemovalPolicy.DESTROY,
                                      auto_delete_objects=True, deletion_prefix="gdpr/user-ids/",
                                      deletion_file_retention=cdk.Duration.days(3))}

    return synth_stack("SecurityDestroy", build)


@pytest.fixture(scope="module")
def imported(synth_stack):
    """An existing bucket, imported by name, given to both constructs."""

    def build(stack):
        bucket = s3.Bucket.from_bucket_name(stack, "Existing", IMPORTED_BUCKET_NAME)
        data = JobDataBucket(stack, "Data", bucket=bucket)
        access = PersonalizeDataAccessRole(stack, "Access", bucket=bucket)
        return {"bucket": bucket, "data": data, "access": access}

    return synth_stack("SecurityImported", build)


@pytest.fixture(scope="module")
def no_condition(synth_stack):
    """PersonalizeDataAccessRole with bucket_policy_source_account_condition=False."""

    def build(stack):
        data = JobDataBucket(stack, "Data")
        access = PersonalizeDataAccessRole(stack, "Access", bucket=data.bucket,
                                           bucket_policy_source_account_condition=False)
        return {"data": data, "access": access}

    return synth_stack("SecurityNoCondition", build)


def _throwaway_stack():
    """A stack for constructs that must fail validation (never synthesized)."""
    return cdk.Stack(cdk.App(), "Invalid")


def _bucket_ids(synth):
    data = synth.parts["data"]
    return logical_id(data.bucket), logical_id(data.log_bucket)


def _bucket_policy_statements(template, bucket_lid):
    policies = [r for r in resources(template, "AWS::S3::BucketPolicy").values()
                if r["Properties"]["Bucket"] == {"Ref": bucket_lid}]
    assert len(policies) == 1, f"expected one bucket policy on {bucket_lid}, found {len(policies)}"
    return as_list(policies[0]["Properties"]["PolicyDocument"]["Statement"])


def _personalize_statements(statements):
    return [s for s in statements if s.get("Principal") == {"Service": "personalize.amazonaws.com"}]


# --------------------------------------------------------------------------- JobDataBucket


def test_creates_a_data_bucket_and_a_separate_log_bucket(default):
    bucket_lid, log_lid = _bucket_ids(default)
    assert bucket_lid != log_lid
    assert set(resources(default.json, "AWS::S3::Bucket")) == {bucket_lid, log_lid}


def test_both_buckets_block_all_public_access(default):
    blocked = default.template.find_resources("AWS::S3::Bucket", {"Properties": {
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }}})
    assert set(blocked) == set(_bucket_ids(default))


def test_both_buckets_use_sse_s3_and_no_kms(default):
    sse_s3 = default.template.find_resources("AWS::S3::Bucket", {"Properties": {"BucketEncryption": {
        "ServerSideEncryptionConfiguration": Match.exact([
            {"ServerSideEncryptionByDefault": Match.object_equals({"SSEAlgorithm": "AES256"})},
        ])}}})
    assert set(sse_s3) == set(_bucket_ids(default))
    default.template.resource_count_is("AWS::KMS::Key", 0)
    rendered = str(default.json)
    assert "KMSMasterKeyID" not in rendered
    # "aws:kms" appears only where the bucket policy refuses KMS-encrypted user-ID files.
    assert all("aws:kms" not in str(r) for t, r in default.json["Resources"].items()
               if r["Type"] != "AWS::S3::BucketPolicy")


def test_both_buckets_are_versioned(default):
    versioned = default.template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": {"Status": "Enabled"}}})
    assert set(versioned) == set(_bucket_ids(default))


def test_data_bucket_logs_to_the_separate_log_bucket(default):
    bucket_lid, log_lid = _bucket_ids(default)
    logging = props(default.json, bucket_lid)["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": log_lid}
    assert logging["LogFilePrefix"]
    assert "LoggingConfiguration" not in props(default.json, log_lid), "the log bucket must not log into itself"


@pytest.mark.parametrize("which", ["data", "log"])
def test_bucket_policy_denies_every_request_without_tls(default, which):
    bucket_lid = dict(zip(("data", "log"), _bucket_ids(default)))[which]
    denies = [s for s in _bucket_policy_statements(default.json, bucket_lid)
              if s["Effect"] == "Deny" and "aws:SecureTransport" in str(s.get("Condition"))]
    assert len(denies) == 1
    deny = denies[0]
    assert actions(deny) == ["s3:*"]
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(resource_strings(deny)) == {"${%s.Arn}" % bucket_lid, "${%s.Arn}/*" % bucket_lid}


def test_lifecycle_expires_user_id_files_and_their_old_versions(default):
    bucket_lid, _ = _bucket_ids(default)
    rules = props(default.json, bucket_lid)["LifecycleConfiguration"]["Rules"]
    matching = [r for r in rules if r.get("Prefix") == "deletions/"]
    assert len(matching) == 1, rules
    rule = matching[0]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 14
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1


def test_lifecycle_follows_a_custom_prefix_and_retention(destroy):
    bucket_lid, _ = _bucket_ids(destroy)
    rules = props(destroy.json, bucket_lid)["LifecycleConfiguration"]["Rules"]
    matching = [r for r in rules if r.get("Prefix") == "gdpr/user-ids/"]
    assert len(matching) == 1, rules
    assert matching[0]["ExpirationInDays"] == 3
    assert "NoncurrentVersionExpiration" in matching[0]
    assert destroy.parts["data"].deletion_prefix == "gdpr/user-ids/"


@pytest.mark.parametrize("stack, policy, emptied", [
    ("default", "Retain", 0),  # retained by default
    ("destroy", "Delete", 2),  # removal_policy=DESTROY with auto_delete_objects: CDK empties both buckets first
])
def test_buckets_follow_the_removal_policy(request, stack, policy, emptied):
    synth = request.getfixturevalue(stack)
    for lid in _bucket_ids(synth):
        resource = synth.json["Resources"][lid]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (policy, policy), lid
    synth.template.resource_count_is("Custom::S3AutoDeleteObjects", emptied)


def test_log_bucket_policy_lets_only_s3_logging_of_this_bucket_and_account_write(default):
    bucket_lid, log_lid = _bucket_ids(default)
    allows = [s for s in _bucket_policy_statements(default.json, log_lid) if s["Effect"] == "Allow"]
    assert len(allows) == 1, allows
    grant = allows[0]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert actions(grant) == ["s3:PutObject"]
    prefix = props(default.json, bucket_lid)["LoggingConfiguration"]["LogFilePrefix"]
    assert resource_strings(grant) == ["${%s.Arn}/%s*" % (log_lid, prefix)]
    assert grant["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [bucket_lid, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_a_given_bucket_creates_no_bucket(imported):
    imported.template.resource_count_is("AWS::S3::Bucket", 0)
    imported.template.resource_count_is("AWS::S3::BucketPolicy", 0)
    data = imported.parts["data"]
    assert data.bucket is imported.parts["bucket"]
    assert data.log_bucket is None


def test_props_error_lists_every_invalid_prop_at_once():
    stack = _throwaway_stack()
    existing = s3.Bucket.from_bucket_name(stack, "Existing", IMPORTED_BUCKET_NAME)
    with pytest.raises(PropsError) as raised:
        JobDataBucket(
            stack, "Data",
            bucket=existing,
            bucket_props=s3.BucketProps(encryption=s3.BucketEncryption.KMS, versioned=False, enforce_ssl=False),
            removal_policy=cdk.RemovalPolicy.DESTROY,
            deletion_prefix="/deletions",
        )
    problems = raised.value.problems
    expected_subjects = [
        "bucket_props cannot be combined with bucket",
        "removal_policy cannot be combined with bucket",
        "bucket_props.encryption",
        "bucket_props.versioned",
        "bucket_props.enforce_ssl",
        "deletion_prefix",
    ]
    for subject in expected_subjects:
        assert sum(subject in p for p in problems) == 1, (subject, problems)
        assert subject in str(raised.value)
    assert len(problems) == len(expected_subjects), problems
    assert f"{len(problems)} invalid prop" in str(raised.value)


def test_props_error_for_auto_delete_without_destroy_and_a_bad_prefix():
    with pytest.raises(PropsError) as raised:
        JobDataBucket(_throwaway_stack(), "Data", auto_delete_objects=True, deletion_prefix="deletions/*")
    problems = raised.value.problems
    assert len(problems) == 2, problems
    assert any("auto_delete_objects" in p and "DESTROY" in p for p in problems)
    assert any("deletion_prefix" in p for p in problems)


@pytest.mark.parametrize("override", [
    {"encryption": s3.BucketEncryption.KMS_MANAGED},
    {"block_public_access": s3.BlockPublicAccess.BLOCK_ACLS},
    {"public_read_access": True},
    {"enforce_ssl": False},
    {"versioned": False},
])
def test_bucket_props_cannot_weaken_a_security_default(override):
    (name, _), = override.items()
    with pytest.raises(PropsError) as raised:
        JobDataBucket(_throwaway_stack(), "Data", bucket_props=s3.BucketProps(**override))
    assert raised.value.problems == [p for p in raised.value.problems if p.startswith(f"bucket_props.{name}:")]
    assert len(raised.value.problems) == 1


# --------------------------------------------------------------------------- PersonalizeDataAccessRole


def test_role_trusts_only_personalize_of_this_account_and_region(default):
    role_lid = logical_id(default.parts["access"].role)
    trust = props(default.json, role_lid)["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    statement = trust[0]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}
    source_arn = render(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source_arn == "arn:${AWS::Partition}:personalize:${AWS::Region}:${AWS::AccountId}:*"


def test_role_may_only_read_the_deletion_prefix_and_list_the_bucket(default):
    role_lid = logical_id(default.parts["access"].role)
    bucket_lid = logical_id(default.parts["data"].bucket)
    role = props(default.json, role_lid)
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    statements = role_statements(default.json, role_lid)
    assert len(statements) == 2, statements
    by_action = {tuple(actions(s)): s for s in statements}
    assert set(by_action) == {("s3:GetObject",), ("s3:ListBucket",)}
    assert all(s["Effect"] == "Allow" for s in statements)
    assert resource_strings(by_action[("s3:GetObject",)]) == ["${%s.Arn}/deletions/*" % bucket_lid]
    assert resource_strings(by_action[("s3:ListBucket",)]) == ["${%s.Arn}" % bucket_lid]
    # nothing else anywhere in the template grants this role anything
    assert len(policies_of_role(default.json, role_lid)) == 1
    default.template.resource_count_is("AWS::IAM::ManagedPolicy", 0)


def test_bucket_policy_lets_personalize_read_with_source_account_condition(default):
    bucket_lid = logical_id(default.parts["data"].bucket)
    statements = _personalize_statements(_bucket_policy_statements(default.json, bucket_lid))
    assert len(statements) == 1, statements
    statement = statements[0]
    assert statement["Effect"] == "Allow"
    assert sorted(actions(statement)) == ["s3:GetObject", "s3:ListBucket"]
    assert set(resource_strings(statement)) == {"${%s.Arn}" % bucket_lid, "${%s.Arn}/deletions/*" % bucket_lid}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_bucket_policy_without_source_account_condition_when_disabled(no_condition):
    bucket_lid = logical_id(no_condition.parts["data"].bucket)
    statements = _personalize_statements(_bucket_policy_statements(no_condition.json, bucket_lid))
    assert len(statements) == 1, statements
    assert sorted(actions(statements[0])) == ["s3:GetObject", "s3:ListBucket"]
    assert "Condition" not in statements[0]


def test_imported_bucket_gets_a_warning_naming_the_needed_statement(imported):
    access = imported.parts["access"]
    warnings = Annotations.from_stack(imported.stack).find_warning(
        "/" + access.node.path, Match.string_like_regexp("PersonalizeReadUserIdFiles"))
    assert len(warnings) == 1, [w.entry.data for w in warnings]
    message = str(warnings[0].entry.data)
    for needed in (IMPORTED_BUCKET_NAME, "personalize.amazonaws.com", "s3:GetObject", "s3:ListBucket",
                   f"{IMPORTED_BUCKET_NAME}/deletions/*"):
        assert needed in message, needed
    # the role is still created, with its two statements, on the imported bucket's ARN
    statements = role_statements(imported.json, logical_id(access.role))
    assert sorted(a for s in statements for a in actions(s)) == ["s3:GetObject", "s3:ListBucket"]
    assert access.bucket_policy_statement.sid == "PersonalizeReadUserIdFiles"


def test_role_props_error_lists_every_problem():
    stack = _throwaway_stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Existing", IMPORTED_BUCKET_NAME)
    role = iam.Role.from_role_name(stack, "Mine", "my-role")
    with pytest.raises(PropsError) as raised:
        PersonalizeDataAccessRole(stack, "Access", bucket=bucket, deletion_prefix="deletions",
                                  role=role, role_name="other-name")
    problems = raised.value.problems
    assert len(problems) == 2, problems
    assert any("deletion_prefix" in p for p in problems)
    assert any("role_name" in p and "role" in p.split("combined with")[-1] for p in problems)


def test_data_bucket_refuses_user_id_files_personalize_could_not_read(default):
    """Evaluated against real upload requests in test_upload_policy.py; here: exactly these three, on the prefix."""
    bucket_lid, log_lid = _bucket_ids(default)
    denies = {s["Sid"]: s for s in _bucket_policy_statements(default.json, bucket_lid)
              if s["Effect"] == "Deny" and s.get("Sid", "").endswith("UserIdFiles")}
    assert set(denies) == {"DenyKmsEncryptedUserIdFiles", "DenyCustomerKeyUserIdFiles", "DenyArchivedUserIdFiles"}
    for deny in denies.values():
        assert actions(deny) == ["s3:PutObject"] and deny["Principal"] == {"AWS": "*"}
        assert resource_strings(deny) == ["${%s.Arn}/deletions/*" % bucket_lid]
    log_denies = [s for s in _bucket_policy_statements(default.json, log_lid) if "UserIdFiles" in str(s.get("Sid"))]
    assert log_denies == []


def test_a_custom_prefix_is_the_one_protected(destroy):
    bucket_lid = logical_id(destroy.parts["data"].bucket)
    denies = [s for s in _bucket_policy_statements(destroy.json, bucket_lid) if "UserIdFiles" in str(s.get("Sid"))]
    assert len(denies) == 3
    assert {r for s in denies for r in resource_strings(s)} == {"${%s.Arn}/gdpr/user-ids/*" % bucket_lid}
