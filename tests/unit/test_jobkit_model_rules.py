"""jobkit.model_rules: the service-model constraints botocore itself does not check."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from jobkit import model_rules

GEN_ARN = "arn:aws:cleanrooms-ml:us-east-1:123456789012:audience-generation-job/gen-1234"


def _client(service):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def personalize():
    return _client("personalize")


@pytest.fixture(scope="module")
def cleanroomsml():
    return _client("cleanroomsml")


def _job_name_shape(personalize):
    return model_rules.member_shape(personalize, "CreateDataDeletionJob", "jobName")


# --- patterns ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "Job-1_x", "0abc", "x" * 63])
def test_personalize_job_name_accepts_valid_names(personalize, name):
    assert model_rules.problems(_job_name_shape(personalize), name, "jobName") == []


@pytest.mark.parametrize("name", ["bad name!", "-x", "_x", "a.b", "a:b", "ok\n"])
def test_personalize_job_name_pattern_is_a_full_match(personalize, name):
    found = model_rules.problems(_job_name_shape(personalize), name, "jobName")
    assert len(found) == 1
    assert found[0].startswith("jobName must match the pattern ")


def test_personalize_job_name_too_long(personalize):
    found = model_rules.problems(_job_name_shape(personalize), "x" * 64, "jobName")
    assert found == ["jobName must have at most 63 characters (has 64)"]


def test_personalize_job_name_empty_breaks_min_length_and_pattern(personalize):
    found = model_rules.problems(_job_name_shape(personalize), "", "jobName")
    assert "jobName must have at least 1 characters" in found
    assert any("pattern" in p for p in found)


def test_messages_describe_the_rule_never_the_value(personalize):
    found = model_rules.problems(_job_name_shape(personalize), "user-secret-123 !", "jobName")
    assert found and not any("user-secret-123" in p for p in found)


def test_stubber_alone_would_let_these_through(personalize):
    """Why the rules exist: botocore's own validation accepts a bad pattern and a 64-char name."""
    stubber = Stubber(personalize)
    for name in ("bad name!", "x" * 64):
        params = {"jobName": name, "datasetGroupArn": "arn:aws:personalize:us-east-1:123456789012:dataset-group/g",
                  "dataSource": {"dataLocation": "s3://b/deletions/a.csv"},
                  "roleArn": "arn:aws:iam::123456789012:role/r"}
        stubber.add_response("create_data_deletion_job", {"dataDeletionJobArn": "arn:x"}, params)
        with stubber:
            personalize.create_data_deletion_job(**params)
        shape = personalize.meta.service_model.operation_model("CreateDataDeletionJob").input_shape
        assert model_rules.problems(shape, params, "request") != []


def test_type_mismatch_is_reported_once(personalize):
    assert model_rules.problems(_job_name_shape(personalize), 42, "jobName") == ["jobName must be a string"]


# --- Clean Rooms ML name (Smithy UTF-16 surrogate ranges) ------------------------------------------


def _name_shape(cleanroomsml):
    return model_rules.member_shape(cleanroomsml, "StartAudienceExportJob", "name")


@pytest.mark.parametrize("name", ["Export 🚀 one", "🚀", "weekly export (EU) – v2", "tab\tinside"])
def test_cleanrooms_name_accepts_printable_text_including_emoji(cleanroomsml, name):
    assert model_rules.problems(_name_shape(cleanroomsml), name, "name") == []


@pytest.mark.parametrize("name", ["   ", "\t", " \t "])
def test_cleanrooms_name_rejects_all_whitespace(cleanroomsml, name):
    found = model_rules.problems(_name_shape(cleanroomsml), name, "name")
    assert len(found) == 1 and found[0].startswith("name must match the pattern")


def test_cleanrooms_name_rejects_control_characters(cleanroomsml):
    assert model_rules.problems(_name_shape(cleanroomsml), "line\nbreak", "name") != []


def test_cleanrooms_description_accepts_newlines_and_emoji(cleanroomsml):
    shape = model_rules.member_shape(cleanroomsml, "StartAudienceExportJob", "description")
    assert model_rules.problems(shape, "first line\nsecond 🚀", "description") == []
    assert model_rules.problems(shape, "x" * 255, "description") == []
    assert model_rules.problems(shape, "x" * 256, "description") == [
        "description must have at most 255 characters (has 256)"
    ]


# --- enums and integer ranges --------------------------------------------------------------------


def _size_shape(cleanroomsml):
    return model_rules.member_shape(cleanroomsml, "StartAudienceExportJob", "audienceSize")


def test_enum(cleanroomsml):
    found = model_rules.problems(_size_shape(cleanroomsml), {"type": "HUGE", "value": 10}, "audienceSize")
    assert found == ["audienceSize.type must be one of ABSOLUTE, PERCENTAGE"]


@pytest.mark.parametrize("value, message", [
    (0, "audienceSize.value must be at least 1"),
    (20_000_001, "audienceSize.value must be at most 20000000"),
])
def test_integer_range(cleanroomsml, value, message):
    found = model_rules.problems(_size_shape(cleanroomsml), {"type": "ABSOLUTE", "value": value}, "audienceSize")
    assert found == [message]


@pytest.mark.parametrize("value", [1, 20_000_000])
def test_integer_range_bounds_are_inclusive(cleanroomsml, value):
    assert model_rules.problems(_size_shape(cleanroomsml), {"type": "ABSOLUTE", "value": value}, "s") == []


@pytest.mark.parametrize("value", ["10", 10.0, True])
def test_integer_type(cleanroomsml, value):
    found = model_rules.problems(_size_shape(cleanroomsml), {"type": "ABSOLUTE", "value": value}, "audienceSize")
    assert found == ["audienceSize.value must be an integer"]


# --- lists, structures ---------------------------------------------------------------------------


def _tags_shape(personalize):
    return model_rules.member_shape(personalize, "CreateDataDeletionJob", "tags")


def test_list_max_items(personalize):
    tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(201)]
    assert model_rules.problems(_tags_shape(personalize), tags, "tags") == ["tags must have at most 200 items (has 201)"]
    assert model_rules.problems(_tags_shape(personalize), tags[:200], "tags") == []


def test_list_items_are_checked_with_their_index(personalize):
    tags = [{"tagKey": "ok", "tagValue": "v"}, {"tagKey": "k" * 129, "tagValue": "v"}, {"tagValue": "v"}]
    found = model_rules.problems(_tags_shape(personalize), tags, "tags")
    assert "tags[1].tagKey must have at most 128 characters (has 129)" in found
    assert "tags[2].tagKey is required" in found
    assert not any(p.startswith("tags[0]") for p in found)


def test_list_type(personalize):
    assert model_rules.problems(_tags_shape(personalize), {"a": "b"}, "tags") == ["tags must be a list"]


def test_structure_unknown_fields_and_required_members(cleanroomsml):
    shape = cleanroomsml.meta.service_model.operation_model("StartAudienceExportJob").input_shape
    found = model_rules.problems(shape, {"name": "n", "colour": "blue"}, "request")
    assert "request.colour is not a known field" in found
    assert "request.audienceGenerationJobArn is required" in found
    assert "request.audienceSize is required" in found
    assert len(found) == 3


def test_structure_type(cleanroomsml):
    assert model_rules.problems(_size_shape(cleanroomsml), [1], "audienceSize") == ["audienceSize must be an object"]


def test_a_complete_valid_request_has_no_problems(cleanroomsml):
    shape = cleanroomsml.meta.service_model.operation_model("StartAudienceExportJob").input_shape
    request = {"name": "export-1", "audienceGenerationJobArn": GEN_ARN,
               "audienceSize": {"type": "PERCENTAGE", "value": 10}, "description": ""}
    assert model_rules.problems(shape, request, "request") == []


def test_several_problems_are_all_reported(cleanroomsml):
    shape = cleanroomsml.meta.service_model.operation_model("StartAudienceExportJob").input_shape
    request = {"name": "   ", "audienceGenerationJobArn": "arn:nope",
               "audienceSize": {"type": "HUGE", "value": 0}}
    found = model_rules.problems(shape, request, "r")
    assert any(p.startswith("r.name must match") for p in found)
    assert "r.audienceGenerationJobArn must have at least 20 characters" in found
    assert any(p.startswith("r.audienceGenerationJobArn must match") for p in found)
    assert "r.audienceSize.type must be one of ABSOLUTE, PERCENTAGE" in found
    assert "r.audienceSize.value must be at least 1" in found


def test_member_shape_accepts_a_service_model(personalize):
    shape = model_rules.member_shape(personalize.meta.service_model, "CreateDataDeletionJob", "jobName")
    assert shape.metadata["max"] == 63


def test_a_pattern_python_cannot_compile_is_not_checked():
    from botocore.model import StringShape

    shape = StringShape("JavaOnly", {"type": "string", "max": 5, "pattern": "[\\p{Lu}]+"})
    assert model_rules.problems(shape, "abc", "x") == []  # left to the service
    assert model_rules.problems(shape, "abcdef", "x") == ["x must have at most 5 characters (has 6)"]


def test_member_shape_walks_nested_paths(personalize):
    shape = model_rules.member_shape(personalize, "CreateDataDeletionJob", "dataSource", "dataLocation")
    assert shape.metadata["max"] == 256
    item = model_rules.member_shape(personalize, "CreateDataDeletionJob", "tags", "[]", "tagKey")
    assert item.metadata["max"] == 128


# --- Personalize tags: Java-style Unicode property classes in the model's pattern -------------------


@pytest.mark.parametrize("tag", [
    {"tagKey": "team", "tagValue": "ml-platform"},
    {"tagKey": "cost-centre:eu/1", "tagValue": ""},
    {"tagKey": "Ünïcödé Kéy", "tagValue": "値 42"},
])
def test_personalize_tags_that_fit_the_model_have_no_problems(personalize, tag):
    """The tag pattern is ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``: letters, separators, digits and _.:/=+-@."""
    assert model_rules.problems(_tags_shape(personalize), [tag], "tags") == []


@pytest.mark.parametrize("tag, field", [
    ({"tagKey": "bad!key", "tagValue": "v"}, "tagKey"),
    ({"tagKey": "k", "tagValue": "semi;colon"}, "tagValue"),
])
def test_personalize_tags_breaking_the_pattern_are_reported(personalize, tag, field):
    found = model_rules.problems(_tags_shape(personalize), [tag], "tags")
    assert len(found) == 1
    assert found[0].startswith(f"tags[0].{field} must match the pattern")



def test_tag_separators_are_unicode_separators_not_any_whitespace(personalize):
    """\\p{Z} is a separator (space, no-break space, ideographic space), never a tab or a newline: found by
    the property tests (tests/unit/test_property_validators.py)."""
    shape = _tags_shape(personalize)
    assert model_rules.problems(shape, [{"tagKey": "a b\u00a0c\u3000d", "tagValue": "v"}], "tags") == []
    for bad in ("a\tb", "a\nb", "a\rb", "a\x0bb"):
        [problem] = model_rules.problems(shape, [{"tagKey": bad, "tagValue": "v"}], "tags")
        assert problem.startswith("tags[0].tagKey must match the pattern")
