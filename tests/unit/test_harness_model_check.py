"""tests.harness.model_check: the tests' own request checker (unit tier and HTTP fakes), not the product's.

It must read every pattern of every operation the handlers call, with Java's meanings, and reject what
breaks a rule: each test here fails if the checker skipped a rule, read a pattern as Python would, or
stopped raising on a pattern it cannot translate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import ShapeResolver

from tests.harness import model_check
from tests.harness.model_check import UncheckableShape, UntranslatablePattern, problems, python_pattern

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
GEN = "arn:aws:cleanrooms-ml:us-east-1:123456789012:audience-generation-job/gen-1234"
MODEL = "arn:aws:cleanrooms-ml:us-east-1:444455556666:configured-audience-model/model-1"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeDataAccess"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
VERSION = f"{SOLUTION}/1a2b3c4d"
CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/live"

#: Every service operation a handler in lambda/ calls (test_the_handlers_call_exactly_these keeps it true).
HANDLER_OPERATIONS = {
    "personalize": ["CreateDataDeletionJob", "DescribeDataDeletionJob", "ListDataDeletionJobs",
                    # the opt-in quiet period, overlap check and follow-through (jobkit.activity and its callers)
                    "ListSolutions", "ListSolutionVersions", "ListDatasets", "ListDatasetImportJobs",
                    "ListBatchInferenceJobs", "ListBatchSegmentJobs", "ListCampaigns", "CreateSolutionVersion",
                    "DescribeSolutionVersion", "UpdateCampaign", "DescribeCampaign"],
    "cleanroomsml": ["StartAudienceExportJob", "ListAudienceExportJobs", "GetAudienceGenerationJob",
                     "GetConfiguredAudienceModel"],
    "s3": ["HeadObject", "ListObjectsV2", "GetObject", "PutObject"],
    "stepfunctions": ["DescribeExecution", "GetExecutionHistory", "StartExecution"],
    "events": ["PutEvents"],
    "sns": ["Publish"],
    "dynamodb": ["TransactWriteItems", "Query", "UpdateItem", "BatchGetItem"],
    "cloudwatch": ["PutMetricData"],
}

#: (service, operation, member path): a value the pattern accepts and one it rejects. The rejected values are
#: the ones a Python reading of the Java pattern would let through where there is one (ASCII \d, ``.`` and
#: line terminators, \p{Z} against \s, the ASCII class); test_every_pattern_member_has_a_row keeps it complete.
PATTERN_CASES = {
    ("personalize", "CreateDataDeletionJob", ("jobName",)): ("erasure-1", "-erasure"),
    ("personalize", "CreateDataDeletionJob", ("datasetGroupArn",)): (GROUP, "arn:aws:s3:::bucket"),
    ("personalize", "CreateDataDeletionJob", ("dataSource", "dataLocation")): (
        "s3://bucket/deletions/users.csv", "s3://bucket/deletions/\r.csv"),
    ("personalize", "CreateDataDeletionJob", ("roleArn",)): (ROLE, "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/r"),
    ("personalize", "CreateDataDeletionJob", ("tags", "[]", "tagKey")): ("team ü名 ١", "team!"),
    ("personalize", "CreateDataDeletionJob", ("tags", "[]", "tagValue")): ("privacy\u2028office", "a\tb"),
    ("personalize", "DescribeDataDeletionJob", ("dataDeletionJobArn",)): (
        "arn:aws:personalize:us-east-1:123456789012:data-deletion-job/erasure-1", "arn:aws:personalize:us-east-1"),
    ("personalize", "ListDataDeletionJobs", ("datasetGroupArn",)): (GROUP, "dataset-group/shop"),
    ("personalize", "ListDataDeletionJobs", ("nextToken",)): ("token/+=", "tokén"),
    **{("personalize", op, (member,)): (value, bad) for op, member, value, bad in (
        ("ListSolutions", "datasetGroupArn", GROUP, "dataset-group/shop"),
        ("ListSolutionVersions", "solutionArn", SOLUTION, "solution/recs"),
        ("CreateSolutionVersion", "solutionArn", SOLUTION, "arn:AWS:personalize:x:y:z"),
        ("CreateSolutionVersion", "name", "erasure-1-retrain", "erasure 1"),
        ("DescribeSolutionVersion", "solutionVersionArn", VERSION, "recs/1a2b3c4d"),
        ("ListDatasets", "datasetGroupArn", GROUP, "shop"),
        ("ListDatasetImportJobs", "datasetArn", f"{GROUP[:43]}:dataset/shop/INTERACTIONS", "dataset/shop"),
        ("ListBatchInferenceJobs", "solutionVersionArn", VERSION, "arn:aws:s3:::b"),
        ("ListBatchSegmentJobs", "solutionVersionArn", VERSION, "arn:aws:personalize"),
        ("ListCampaigns", "solutionArn", SOLUTION, "arn:aws:personalize:"),
        ("UpdateCampaign", "campaignArn", CAMPAIGN, "campaign/live"),
        ("UpdateCampaign", "solutionVersionArn", VERSION, "1a2b3c4d"),
        ("DescribeCampaign", "campaignArn", CAMPAIGN, "arn:aws:personalize:us-east-1"),
    )},
    **{("personalize", op, ("nextToken",)): ("token/+=", "tokén") for op in (
        "ListSolutions", "ListSolutionVersions", "ListDatasets", "ListDatasetImportJobs", "ListBatchInferenceJobs",
        "ListBatchSegmentJobs", "ListCampaigns")},
    ("personalize", "CreateSolutionVersion", ("tags", "[]", "tagKey")): ("team ü名 ١", "team!"),
    ("personalize", "CreateSolutionVersion", ("tags", "[]", "tagValue")): ("privacy\u2028office", "a\tb"),
    ("cleanroomsml", "StartAudienceExportJob", ("name",)): ("export\u00a0🚀", "   "),
    ("cleanroomsml", "StartAudienceExportJob", ("audienceGenerationJobArn",)): (GEN, MODEL),
    ("cleanroomsml", "StartAudienceExportJob", ("description",)): ("first line\nsecond 🚀", "nul\x00"),
    ("cleanroomsml", "ListAudienceExportJobs", ("audienceGenerationJobArn",)): (GEN, GEN + " "),
    ("cleanroomsml", "GetAudienceGenerationJob", ("audienceGenerationJobArn",)): (GEN, GEN.replace("aws", "AWS")),
    ("cleanroomsml", "GetConfiguredAudienceModel", ("configuredAudienceModelArn",)): (MODEL, GEN),
    ("stepfunctions", "StartExecution", ("traceHeader",)): ("Root=1-5759e988-bd862e3fe1be46a994272793", "é"),
    ("events", "PutEvents", ("Entries", "[]", "EventBusName")): ("default", "my bus"),
    ("events", "PutEvents", ("EndpointId",)): ("abcde.veo", "abcde"),
    ("dynamodb", "Query", ("IndexName",)): ("queued-by-dataset-group", "queued by group"),
    ("cloudwatch", "PutMetricData", ("Namespace",)): ("cdk-ml-data-jobs", "cdk\rml"),  # Java's . stops at \r
}


@pytest.fixture(scope="module")
def models():
    session = botocore.session.get_session()
    return {service: session.get_service_model(service) for service in HANDLER_OPERATIONS}


def _shape(models, service, operation, path):
    return model_check.member_shape(models[service], operation, *path)


# ---- the checker covers what the handlers call ------------------------------------------------------------


def _calls_in(module: Path) -> set[tuple[str, str]]:
    """``(service, operation)`` for each client method (or paginator) called in a handler module, for each
    service the module asks ``jobkit.clients.client`` for."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    every = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    calls = [node for node in every if isinstance(node.func, ast.Attribute)]
    services = {c.args[0].value for c in calls if c.func.attr == "client" and c.args
                and isinstance(c.args[0], ast.Constant) and isinstance(c.args[0].value, str)}
    names = {c.func.attr for c in calls} | {c.args[0].value for c in calls if c.func.attr == "get_paginator"
                                            and isinstance(c.args[0], ast.Constant)}
    # jobkit.activity.pages(client, "list_x", ...): botocore's paginator of the named method, in the Personalize
    # client the caller passes (activity.py asks for no client itself)
    paged = {c.args[1].value for c in every if (ast.unparse(c.func) in ("pages", "activity.pages"))
             and len(c.args) > 1 and isinstance(c.args[1], ast.Constant)}
    if paged:
        services.add("personalize")
        names |= paged
    session = botocore.session.get_session()
    found = set()
    for service in services:
        methods = {xform_name(op): op for op in session.get_service_model(service).operation_names}
        found |= {(service, methods[name]) for name in names if name in methods}
    return found


def test_the_handlers_call_exactly_these_operations():
    called = set().union(*(_calls_in(module) for module in LAMBDA_DIR.rglob("*.py")))
    listed = {(service, op) for service, operations in HANDLER_OPERATIONS.items() for op in operations}
    assert called == listed


def test_every_pattern_the_handlers_operations_reach_translates(models):
    count = 0
    for service, operations in HANDLER_OPERATIONS.items():
        for operation in operations:
            shape = models[service].operation_model(operation).input_shape
            for path, pattern in model_check.patterns(shape):
                python_pattern(pattern)  # raises UntranslatablePattern
                count += 1
    assert count == len(PATTERN_CASES)


def test_every_pattern_member_has_a_row(models):
    reached = {(service, operation, path) for service, operations in HANDLER_OPERATIONS.items()
               for operation in operations
               for path, _ in model_check.patterns(models[service].operation_model(operation).input_shape)}
    assert reached == set(PATTERN_CASES)


@pytest.mark.parametrize("key", sorted(PATTERN_CASES), ids=lambda key: f"{key[1]}.{'.'.join(key[2])}")
def test_each_pattern_accepts_its_good_value_and_rejects_its_bad_one(models, key):
    good, bad = PATTERN_CASES[key]
    shape = _shape(models, *key)
    assert problems(shape, good, "v") == []
    assert problems(shape, bad, "v") == [f"v must match the pattern {shape.metadata['pattern']}"]


# ---- Java's dialect, not Python's ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, value, matches", [
    ("\\d+", "١٢٣", False),  # ASCII digits only
    ("\\w+", "é", False),
    ("\\s", "\u00a0", False),
    ("\\p{L}+", "éß名", True),
    ("\\p{Lu}", "a", False),
    ("\\p{IsN}+", "٣Ⅻ", True),
    ("\\p{Z}", "\t", False),
    ("\\p{Alpha}", "é", False),  # POSIX classes are ASCII
    ("\\P{L}", "1", True),
    ("a.c", "a\rc", False),
    ("a.c", "a\u2028c", False),
    ("a.c", "a\u00a0c", True),
    ("^ab$", "ab\n", False),  # full match: a final line terminator is not part of the value
    ("ab$\\n", "ab\n", True),  # ... but $ may stand before it
    ("[\\uD800\\uDC00-\\uDBFF\\uDFFF]", "🚀", True),  # a surrogate pair is its code point
    ("[\\u0020-\\uD7FF\\uD800\\uDBFF-\\uDC00\\uDFFF]*", "a 🚀", True),  # AWS's scrambled XML Char range
    ("\\x{1F680}\\x41", "🚀A", True),
    ("[a\\-z]+", "-", True),
    ("[^\\p{L}]", "é", False),
    ("(?<year>\\d{4})-(?:\\d\\d)", "2026-11", True),
    ("x{2,3}", "xxxx", False),
])
def test_patterns_mean_what_they_mean_in_java(pattern, value, matches):
    assert bool(python_pattern(pattern).fullmatch(value)) is matches


@pytest.mark.parametrize("pattern", [
    "\\p{IsLatin}+", "\\p{InGreek}", "[a-z&&[^q]]", "[[a-z]]", "(?i)abc", "(?>x)", "\\bword", "(a)\\1",
    "\\Qa.b\\E", "\\uD800", "[\\uDC00-\\uDFFF]", "a{,2}", "[a-z", "[]a]", "\\h", "\\R", "[\\D]", "\\0101", "*a",
])
def test_a_pattern_it_cannot_translate_raises(pattern):
    with pytest.raises(UntranslatablePattern):
        python_pattern(pattern)


def test_checking_a_value_against_an_untranslatable_pattern_raises_instead_of_passing():
    shape = ShapeResolver({"Name": {"type": "string", "pattern": "\\p{IsLatin}+"}}).get_shape_by_name("Name")
    with pytest.raises(UntranslatablePattern):
        problems(shape, "anything", "name")


def test_a_shape_type_it_does_not_know_raises():
    shape = ShapeResolver({"Doc": {"type": "document"}}).get_shape_by_name("Doc")
    with pytest.raises(UncheckableShape):
        problems(shape, {}, "doc")


# ---- every other rule ------------------------------------------------------------------------------------


def _good_deletion():
    return {"jobName": "erasure-1", "datasetGroupArn": GROUP, "roleArn": ROLE,
            "dataSource": {"dataLocation": "s3://bucket/deletions/users.csv"}}


def test_a_good_request_has_no_problems(models):
    assert model_check.request_problems(models["personalize"], "CreateDataDeletionJob", _good_deletion()) == []
    assert model_check.request_problems(models["cleanroomsml"], "StartAudienceExportJob", {
        "name": "export-1", "audienceGenerationJobArn": GEN, "audienceSize": {"type": "ABSOLUTE", "value": 10}}) == []


@pytest.mark.parametrize("change, expected", [
    ({"jobName": "x" * 64}, "CreateDataDeletionJob.jobName must have at most 63 characters (has 64)"),
    ({"jobName": ""}, ["CreateDataDeletionJob.jobName must have at least 1 characters",
                       "CreateDataDeletionJob.jobName must match the pattern ^[a-zA-Z0-9][a-zA-Z0-9\\-_]*"]),
    ({"jobName": 7}, "CreateDataDeletionJob.jobName must be a string"),
    ({"roleArn": None}, "CreateDataDeletionJob.roleArn is required"),
    ({"colour": "blue"}, "CreateDataDeletionJob.colour is not a member of CreateDataDeletionJobRequest"),
    ({"dataSource": {"dataLocation": "s3://b/" + "k" * 250}},
     "CreateDataDeletionJob.dataSource.dataLocation must have at most 256 characters (has 257)"),
    ({"dataSource": "s3://b/k.csv"}, "CreateDataDeletionJob.dataSource must be an object"),
    ({"tags": [{"tagKey": "k", "tagValue": "v"}] * 201},
     "CreateDataDeletionJob.tags must have at most 200 items (has 201)"),
    ({"tags": {"k": "v"}}, "CreateDataDeletionJob.tags must be a list"),
    ({"tags": [{"tagKey": "k"}]}, "CreateDataDeletionJob.tags[0].tagValue is required"),
])
def test_a_deletion_request_breaking_one_rule_has_that_problem(models, change, expected):
    request = {**_good_deletion(), **change}
    request = {k: v for k, v in request.items() if v is not None}
    found = model_check.request_problems(models["personalize"], "CreateDataDeletionJob", request)
    assert found == (expected if isinstance(expected, list) else [expected])


@pytest.mark.parametrize("size, expected", [
    ({"type": "HUGE", "value": 10}, "audienceSize.type must be one of ABSOLUTE, PERCENTAGE"),
    ({"type": "ABSOLUTE", "value": 0}, "audienceSize.value must be at least 1"),
    ({"type": "ABSOLUTE", "value": 20_000_001}, "audienceSize.value must be at most 20000000"),
    ({"type": "ABSOLUTE", "value": True}, "audienceSize.value must be a number of type integer"),
    ({"type": "ABSOLUTE", "value": 1.5}, "audienceSize.value must be a number of type integer"),
])
def test_an_export_request_breaking_one_rule_has_that_problem(models, size, expected):
    request = {"name": "export-1", "audienceGenerationJobArn": GEN, "audienceSize": size}
    assert model_check.request_problems(models["cleanroomsml"], "StartAudienceExportJob", request) == [
        f"StartAudienceExportJob.{expected}"]


def test_list_page_sizes_are_ranges(models):
    found = model_check.request_problems(models["personalize"], "ListDataDeletionJobs", {"maxResults": 101})
    assert found == ["ListDataDeletionJobs.maxResults must be at most 100"]


def test_maps_unions_and_the_other_scalar_types():
    resolver = ShapeResolver({
        "U": {"type": "structure", "union": True, "members": {"a": {"shape": "S"}, "b": {"shape": "M"}}},
        "S": {"type": "string", "max": 2},
        "M": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "F"}, "max": 1},
        "F": {"type": "double", "min": 0},
        "B": {"type": "blob", "max": 3},
        "T": {"type": "timestamp"},
        "Flag": {"type": "boolean"},
    })
    union, blob = resolver.get_shape_by_name("U"), resolver.get_shape_by_name("B")
    assert problems(union, {"a": "ok"}, "u") == []
    assert problems(union, {"a": "ok", "b": {}}, "u") == ["u must set exactly one member (a union), not 2"]
    assert problems(union, {"b": {"key": -1.0, "k": 0.5}}, "u") == [
        "u.b must have at most 1 entries (has 2)", "u.b key must have at most 2 characters (has 3)",
        "u.b[] must be at least 0"]
    assert problems(blob, b"abcd", "b") == ["b must have at most 3 bytes (has 4)"]
    assert problems(resolver.get_shape_by_name("T"), "yesterday", "t") == []
    assert problems(resolver.get_shape_by_name("T"), True, "t") == ["t must be a timestamp"]
    assert problems(resolver.get_shape_by_name("Flag"), "true", "f") == ["f must be a boolean"]


def test_messages_never_quote_the_value(models):
    secret = "user-4f2a91-secret!"
    found = model_check.request_problems(models["personalize"], "CreateDataDeletionJob",
                                         {**_good_deletion(), "jobName": secret, "tags": [{"tagKey": secret}]})
    assert found and not any("secret" in message for message in found)


# ---- the unit tier and the fakes judge requests with it ----------------------------------------------------


@pytest.mark.parametrize("service, method, params, problem", [
    ("personalize", "create_data_deletion_job", {**_good_deletion(), "jobName": "bad name!"},
     "jobName must match the pattern"),
    ("personalize", "create_data_deletion_job", {**_good_deletion(), "roleArn": "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/r"},
     "roleArn must match the pattern"),
    ("personalize", "create_data_deletion_job",
     {**_good_deletion(), "dataSource": {"dataLocation": "s3://b/" + "a" * 260}}, "dataLocation must have at most 256"),
    ("cleanroomsml", "start_audience_export_job",
     {"name": "n", "audienceGenerationJobArn": GEN, "audienceSize": {"type": "HUGE", "value": 1}},
     "audienceSize.type must be one of"),
])
def test_the_unit_tiers_request_check_rejects_what_stubber_lets_through(assert_valid_request, service, method,
                                                                        params, problem):
    from tests.unit.conftest import make_client

    with pytest.raises(AssertionError, match=problem):
        assert_valid_request(make_client(service), method, params)


def test_the_unit_tiers_request_check_accepts_a_good_request_by_method_or_api_name(assert_valid_request):
    from tests.unit.conftest import make_client

    api = make_client("personalize")
    assert_valid_request(api, "create_data_deletion_job", _good_deletion())
    assert_valid_request(api, "CreateDataDeletionJob", _good_deletion())


@pytest.mark.parametrize("service, method, params, problem", [
    ("personalize", "create_data_deletion_job",
     {**_good_deletion(), "dataSource": {"dataLocation": "s3://bucket/deletions/\r.csv"}},
     "CreateDataDeletionJob.dataSource.dataLocation must match the pattern"),
    ("cleanroomsml", "start_audience_export_job",
     {"name": "   ", "audienceGenerationJobArn": GEN, "audienceSize": {"type": "ABSOLUTE", "value": 10}},
     "StartAudienceExportJob.name must match the pattern"),
    ("cleanroomsml", "list_audience_export_jobs", {"audienceGenerationJobArn": MODEL},
     "ListAudienceExportJobs.audienceGenerationJobArn must match the pattern"),
])
def test_the_fakes_answer_a_request_that_breaks_the_model_with_a_validation_error(service, method, params, problem):
    from tests.harness.clock import VirtualClock
    from tests.harness.fake_service import install
    from tests.harness.fakes import FakeCleanRoomsML, FakePersonalize
    from tests.unit.conftest import make_client

    fake = {"personalize": FakePersonalize, "cleanroomsml": FakeCleanRoomsML}[service](VirtualClock())
    api = make_client(service)
    uninstall = install([fake], api.meta.events)
    try:
        with pytest.raises(ClientError) as raised:
            getattr(api, method)(**params)
    finally:
        uninstall()
    assert raised.value.response["Error"]["Code"] == fake._validation_code()
    assert [v for v in fake.violations if v.startswith(problem)] == fake.violations != []
