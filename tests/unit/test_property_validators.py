"""Property-based: any JSON value given to either validator ends in a documented outcome.

For arbitrary JSON (and for inputs close to valid ones, where the interesting cases are) both
validators either return a request or raise ``InvalidInput``: never another exception. Whatever
they accept becomes a request (built as the launch/start functions build it) that the runtime
botocore's service model accepts, checked independently of ``jobkit.model_rules``: botocore's
own ``ParamValidator`` (types, required members, minimums) and a separate walk of the model for
maximum lengths, enums, ranges and patterns, the patterns matched in full with the ``regex``
module (which knows ``\\p{L}``) over the value's UTF-16 code units, as the Java/Smithy patterns mean.
"""

from __future__ import annotations

import struct
from typing import Any

import botocore.session
import pytest
import regex
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import deletion_validate
import export_validate
import jobkit.clients
from jobkit.errors import InvalidInput
from tests.unit.conftest import ACCOUNT, BUCKET, PREFIX, REGION, ROLE_ARN

SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FILE_KEY = f"{PREFIX}batch/users.csv"
GOOD_CSV = b"USER_ID\nu-1\nu-2\n"
GROUP = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/shop"
GENERATION_JOB = f"arn:aws:cleanrooms-ml:{REGION}:{ACCOUNT}:audience-generation-job/gen-1"
MODEL_ARN = f"arn:aws:cleanrooms-ml:{REGION}:{ACCOUNT}:configured-audience-model/m-1"

# Characters that sit on the edges of the services' patterns: separators, tabs, controls, astral.
EDGE_TEXT = st.text(alphabet=st.sampled_from(list("aZ09_-.:/=+@ ") + ["\t", "\n", "\u00a0", "\u2028", "\u3000",
                                                                      "\x00", "\x7f", "é", "中", "\U0001F600",
                                                                      "\ufffd", "\uffff"]), max_size=300)
PLAIN_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=70)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    | EDGE_TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=20,
)


#: Step Functions execution names: 1-80 characters, no whitespace, control characters or ``<>{}[]?*"#%\^|~`$&,;:/``.
EXECUTION_NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
                                                 blacklist_characters='<>{}[]?*"#%\\^|~`$&,;:/\t\n\r\x0b\x0c'),
                          min_size=1, max_size=80)


def _maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """A field's value: mostly near-valid, sometimes anything at all."""
    return st.one_of(valid, JSON)


def _object(required: dict[str, st.SearchStrategy], optional: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Objects with the fields' near-valid values only, then with anything in some fields, then with an extra
    field (Hypothesis favours the first alternatives: the accepted side gets its share of examples)."""
    shaped = st.fixed_dictionaries(required, optional=optional)
    near = st.fixed_dictionaries({k: _maybe(v) for k, v in required.items()},
                                 optional={k: _maybe(v) for k, v in optional.items()})
    with_extra = st.tuples(near, st.text(max_size=30), JSON).map(lambda t: {**t[0], t[1]: t[2]})
    return st.one_of(shaped, near, with_extra)


DELETION_INPUTS = st.one_of(_object(
    {"datasetGroupArn": st.one_of(st.just(GROUP), st.from_regex(
        r"arn:aws:personalize:us-east-1:123456789012:dataset-group/[A-Za-z0-9][A-Za-z0-9_-]{0,70}", fullmatch=True),
        EDGE_TEXT),
     "dataLocation": st.one_of(st.just(f"s3://{BUCKET}/{FILE_KEY}"),
                               st.sampled_from([f"s3://{BUCKET}/{FILE_KEY}", f"s3://{BUCKET}/{PREFIX}batch/",
                                                f"s3://{BUCKET}/{PREFIX}", f"s3://other-bucket/{FILE_KEY}"]),
                               EDGE_TEXT.map(lambda t: f"s3://{BUCKET}/{PREFIX}{t}.csv"))},
    {"jobName": st.one_of(st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,70}", fullmatch=True), EDGE_TEXT),
     "tags": st.lists(st.fixed_dictionaries({"tagKey": EDGE_TEXT, "tagValue": EDGE_TEXT}), max_size=4)}), JSON)

EXPORT_INPUTS = st.one_of(_object(
    {"audienceGenerationJobArn": st.one_of(st.just(GENERATION_JOB), st.from_regex(
        r"arn:aws:cleanrooms-ml:us-east-1:123456789012:audience-generation-job/[-a-zA-Z0-9_/.]{1,60}",
        fullmatch=True), EDGE_TEXT),
     "audienceSize": st.fixed_dictionaries({"type": st.sampled_from(["ABSOLUTE", "PERCENTAGE", "HUGE"]),
                                            "value": st.integers(1, 100) | st.integers(-5, 30_000_000)})},
    {"name": PLAIN_TEXT | EDGE_TEXT, "description": PLAIN_TEXT | EDGE_TEXT}), JSON)


# --------------------------------------------------------------------------- the independent check

def _utf16_units(text: str) -> str:
    """``text`` as a string of its UTF-16 code units (astral characters become surrogate pairs)."""
    data = text.encode("utf-16-le", "surrogatepass")
    return "".join(chr(unit) for unit in struct.unpack(f"<{len(data) // 2}H", data))


def model_violations(shape: Any, value: Any, path: str = "") -> list[str]:
    """What the model's constraints that botocore does not check say about ``value`` (independent walk)."""
    found = []
    meta = shape.metadata
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                found += model_violations(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list":
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{path}: more than {meta['max']} items")
        for i, item in enumerate(value):
            found += model_violations(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "string":
        units = _utf16_units(value)
        if "max" in meta and len(units) > meta["max"] and len(value) > meta["max"]:
            found.append(f"{path}: longer than {meta['max']}")
        if shape.enum and value not in shape.enum:
            found.append(f"{path}: not one of the enum")
        if "pattern" in meta:
            # The models write "any UTF-16 surrogate" as \uD800\uDBFF-\uDC00\uDFFF; over code units that is a range.
            pattern = meta["pattern"].replace("\\uD800\\uDBFF-\\uDC00\\uDFFF", "\\uD800-\\uDFFF")
            try:
                compiled = regex.compile(pattern)
            except regex.error:
                compiled = None
            if compiled is not None and not compiled.fullmatch(units) and not compiled.fullmatch(value):
                found.append(f"{path}: does not match {meta['pattern']}")
    elif shape.type_name in ("integer", "long"):
        if "min" in meta and value < meta["min"] or "max" in meta and value > meta["max"]:
            found.append(f"{path}: out of range")
    return found


def assert_model_accepts(service: str, operation: str, params: dict[str, Any]) -> None:
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    assert model_violations(shape, params) == []


# --------------------------------------------------------------------------- the properties

def validated(module: Any, data: Any, execution_name: str) -> dict[str, Any] | None:
    """The validator's request, or None when it raised InvalidInput (the only exception allowed)."""
    try:
        request = module.handler({"input": data, "executionName": execution_name}, None)
    except InvalidInput as rejected:
        assert rejected.problems and all(isinstance(p, str) and p for p in rejected.problems)
        assert len(str(rejected)) < 10_000
        event("rejected")
        return None
    event("accepted")  # (pytest --hypothesis-show-statistics shows how often)
    return request


@pytest.fixture
def data_file(s3):
    s3.put_object(Bucket=BUCKET, Key=FILE_KEY, Body=GOOD_CSV)
    return s3


@SETTINGS
@given(data=DELETION_INPUTS, execution_name=EXECUTION_NAMES)
@example(data={"datasetGroupArn": GROUP, "dataLocation": f"s3://{BUCKET}/{FILE_KEY}",
               "tags": [{"tagKey": "team", "tagValue": "privacy \u00a0 ops"}]}, execution_name="accepted")
@example(data={"datasetGroupArn": GROUP, "dataLocation": f"s3://{BUCKET}/{FILE_KEY}",
               "tags": [{"tagKey": "a\tb", "tagValue": "v"}]}, execution_name="a tab is no separator")
@example(data=None, execution_name="null")
def test_deletion_validate_ends_in_a_request_or_invalid_input(data_file, data, execution_name):
    request = validated(deletion_validate, data, execution_name)
    if request is None:
        return
    params = {"jobName": request["jobName"], "datasetGroupArn": request["datasetGroupArn"],
              "dataSource": {"dataLocation": request["dataLocation"]}, "roleArn": ROLE_ARN}
    if request.get("tags"):
        params["tags"] = request["tags"]
    assert_model_accepts("personalize", "CreateDataDeletionJob", params)


class _GenerationJobs:
    """Clean Rooms ML for the validator: every generation job ACTIVE, the model without size bins."""

    def __init__(self) -> None:
        self.meta = botocore.session.get_session().create_client(
            "cleanroomsml", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x").meta

    def get_audience_generation_job(self, **_: Any) -> dict[str, Any]:
        return {"status": "ACTIVE", "configuredAudienceModelArn": MODEL_ARN}

    def get_configured_audience_model(self, **_: Any) -> dict[str, Any]:
        return {}


@SETTINGS
@given(data=EXPORT_INPUTS, execution_name=EXECUTION_NAMES)
@example(data={"audienceGenerationJobArn": GENERATION_JOB, "audienceSize": {"type": "ABSOLUTE", "value": 5000},
               "name": "q4 \U0001F600"}, execution_name="accepted")
@example(data=[], execution_name="a list")
def test_export_validate_ends_in_a_request_or_invalid_input(monkeypatch, data, execution_name):
    monkeypatch.setattr(jobkit.clients, "client", lambda service: _API)
    request = validated(export_validate, data, execution_name)
    if request is None:
        return
    params = {"name": request["name"], "audienceGenerationJobArn": request["audienceGenerationJobArn"],
              "audienceSize": request["audienceSize"]}
    if request.get("description") is not None:
        params["description"] = request["description"]
    assert_model_accepts("cleanroomsml", "StartAudienceExportJob", params)


_API = _GenerationJobs()


def test_the_independent_check_can_fail():
    """The check above is not vacuous: it refuses what the services' models refuse."""
    with pytest.raises(AssertionError):
        assert_model_accepts("personalize", "CreateDataDeletionJob", {
            "jobName": "bad name!", "datasetGroupArn": GROUP, "dataSource": {"dataLocation": "s3://b/k.csv"},
            "roleArn": ROLE_ARN})
    with pytest.raises(AssertionError):
        assert_model_accepts("personalize", "CreateDataDeletionJob", {
            "jobName": "ok", "datasetGroupArn": GROUP, "dataSource": {"dataLocation": "s3://b/k.csv"},
            "roleArn": ROLE_ARN, "tags": [{"tagKey": "a\tb", "tagValue": "v"}]})
    with pytest.raises(AssertionError):
        assert_model_accepts("cleanroomsml", "StartAudienceExportJob", {
            "name": "n", "audienceGenerationJobArn": GENERATION_JOB, "audienceSize": {"type": "HUGE", "value": 1}})
    with pytest.raises(AssertionError):
        assert_model_accepts("cleanroomsml", "StartAudienceExportJob", {
            "name": "   ", "audienceGenerationJobArn": GENERATION_JOB,
            "audienceSize": {"type": "ABSOLUTE", "value": 5}})
    assert_model_accepts("cleanroomsml", "StartAudienceExportJob", {
        "name": "q4 \U0001F600", "audienceGenerationJobArn": GENERATION_JOB,
        "audienceSize": {"type": "ABSOLUTE", "value": 5}})
