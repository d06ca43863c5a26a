"""Snapshot of the sample app's template (normalized), normalize_template itself, and synthesis determinism.

Update the snapshot after a reviewed infrastructure change with
``pytest tests/template/test_snapshot.py --snapshot-update``.
"""

from __future__ import annotations

import copy
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from cdk_ml_data_jobs import normalize_template

from .helpers import logical_id, operations_functions, resources

ASSET_KEY = re.compile(r"[0-9a-f]{64}\.zip")
OTHER_HASH = "0123456789abcdef" * 4


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _s3_keys(template: dict) -> list[str]:
    return [r["Properties"]["Code"]["S3Key"] for r in resources(template, "AWS::Lambda::Function").values()]


def _with_s3_key(template: dict, key: str) -> dict:
    changed = copy.deepcopy(template)
    for resource in resources(changed, "AWS::Lambda::Function").values():
        resource["Properties"]["Code"]["S3Key"] = key
    return changed


def test_sample_app_template_matches_snapshot(sample_template_json, json_snapshot):
    assert normalize_template(sample_template_json) == json_snapshot


def _sample_functions(sample) -> list:
    """Every JobFunction of the sample app: three steps per workflow plus what operates them (outcome reporters)."""
    deletion, export = sample.parts["deletion"], sample.parts["export"]
    return [deletion.validate_function, deletion.launch_function, deletion.poll_function,
            export.validate_function, export.launch_function, export.poll_function,
            *operations_functions(deletion).values(), *operations_functions(export).values()]


def test_normalize_replaces_the_asset_hash_in_s3_keys(sample, sample_template_json):
    keys = _s3_keys(sample_template_json)
    functions = _sample_functions(sample)
    assert set(resources(sample_template_json, "AWS::Lambda::Function")) == {logical_id(f) for f in functions}
    assert len(keys) == len(functions) == 3 + 3 + 2, keys
    assert all(ASSET_KEY.fullmatch(k) for k in keys) and len(set(keys)) == 1, keys
    normalized = normalize_template(sample_template_json)
    assert set(_s3_keys(normalized)) == {"<asset-hash>.zip"}
    assert not re.search(r"[0-9a-f]{64}", str(normalized))
    # a copy: the input is untouched
    assert _s3_keys(sample_template_json) == keys


def test_normalize_keeps_everything_that_is_not_an_asset_hash():
    template = {
        "Resources": {
            "FunctionA1B2C3D4": {"Type": "AWS::Lambda::Function", "Properties": {
                "Code": {"S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
                         "S3Key": "a" * 64 + ".zip"},
                "Runtime": "python3.14",
                "Description": "git sha " + "b" * 40 + " and uppercase " + "C" * 64,
                "MemorySize": 256,
                "Architectures": ["arm64"],
            }},
        },
    }
    normalized = normalize_template(template)
    function = normalized["Resources"]["FunctionA1B2C3D4"]["Properties"]
    assert function["Code"]["S3Key"] == "<asset-hash>.zip"
    assert function["Code"]["S3Bucket"] == {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    assert function["Runtime"] == "python3.14"
    assert function["Description"] == "git sha " + "b" * 40 + " and uppercase " + "C" * 64
    assert function["MemorySize"] == 256
    assert function["Architectures"] == ["arm64"]
    assert list(normalized["Resources"]) == ["FunctionA1B2C3D4"]
    assert template["Resources"]["FunctionA1B2C3D4"]["Properties"]["Code"]["S3Key"] == "a" * 64 + ".zip"


def test_snapshot_is_unchanged_when_only_a_handler_changes(sample_template_json):
    """A handler edit changes only the asset hash (S3Key): the normalized template must not change."""
    edited = _with_s3_key(sample_template_json, f"{OTHER_HASH}.zip")
    assert edited != sample_template_json
    assert normalize_template(edited) == normalize_template(sample_template_json)


def test_snapshot_changes_when_infrastructure_changes(sample_template_json):
    """The normalization hides asset hashes only: a real change still shows."""
    changed = copy.deepcopy(sample_template_json)
    function = next(iter(resources(changed, "AWS::Lambda::Function").values()))
    function["Properties"]["MemorySize"] = 1024
    assert normalize_template(changed) != normalize_template(sample_template_json)


def test_synthesis_is_deterministic(make_app, sample_template_json):
    """Two separate apps synthesize the sample to the same template (asset hash included)."""
    from aws_cdk.assertions import Template

    import app as sample_app  # tests/conftest.py's sample_stack put the project root on sys.path

    second = Template.from_stack(sample_app.build(make_app())).to_json()
    assert normalize_template(second) == normalize_template(sample_template_json)
    assert second == sample_template_json
