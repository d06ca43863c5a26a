"""jobkit.names: job names derived from Step Functions execution names."""

from __future__ import annotations

import re

import boto3
import pytest

from jobkit import names
from tests.harness import model_check

PERSONALIZE_JOB_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*")

# Shapes of real execution names: console default (UUID), ISO timestamps, user-chosen names.
EXECUTION_NAMES = [
    "a",
    "deletion-2026-11-23",
    "0d3c59bb-2b9e-4ab4-9ee1-6ad1a0d9b7f1",
    "2026-11-23T07:00:00.000Z",
    "nightly.run:7",
    "user erasure batch 12",
    "-leading-dash",
    "__leading_underscores",
    "...",
    "",
    "ünïcode-名前",
    "x" * 63,
    "x" * 64,
    "y" * 80,
    "a.b" * 30,
    "Z" * 62 + ".",
]


@pytest.fixture(scope="module")
def job_name_shape():
    api = boto3.client("personalize", region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    return model_check.member_shape(api.meta.service_model, "CreateDataDeletionJob", "jobName")


@pytest.mark.parametrize("name", ["a", "deletion-2026-11-23", "0d3c59bb-2b9e-4ab4-9ee1-6ad1a0d9b7f1",
                                  "Job_1", "x" * 63])
def test_personalize_job_name_keeps_a_valid_name(name):
    assert names.personalize_job_name(name) == name


@pytest.mark.parametrize("name", EXECUTION_NAMES)
def test_personalize_job_name_always_fits_the_model(name, job_name_shape):
    job_name = names.personalize_job_name(name)
    assert 1 <= len(job_name) <= 63
    assert PERSONALIZE_JOB_NAME.fullmatch(job_name), job_name
    assert model_check.problems(job_name_shape, job_name, "jobName") == []


@pytest.mark.parametrize("name", ["2026-11-23T07:00:00.000Z", "nightly.run:7", "user erasure batch 12"])
def test_personalize_job_name_sanitises_dots_colons_and_spaces(name):
    job_name = names.personalize_job_name(name)
    assert not set(job_name) & {".", ":", " "}
    # readable: the sanitised execution name is kept, followed by an 8-hex-digit hash
    assert re.fullmatch(r"[A-Za-z0-9_-]+-[0-9a-f]{8}", job_name)
    assert job_name.startswith(re.sub(r"[^A-Za-z0-9_-]", "-", name).strip("-_")[:20])


def test_personalize_job_name_examples():
    assert names.personalize_job_name("nightly.run:7").startswith("nightly-run-7-")
    assert names.personalize_job_name("").startswith("job-")
    assert names.personalize_job_name("...").startswith("job-")
    assert names.personalize_job_name("-leading-dash").startswith("leading-dash-")


def test_names_that_sanitise_alike_stay_different():
    variants = ["run.1", "run:1", "run 1", "run/1", "run-1.", "run@1"]
    produced = {names.personalize_job_name(v) for v in variants}
    assert len(produced) == len(variants)
    assert "run-1" not in produced  # none collides with the already-valid name "run-1"
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"  # differ only beyond the cut
    assert names.personalize_job_name(long_a) != names.personalize_job_name(long_b)


@pytest.mark.parametrize("name", EXECUTION_NAMES)
def test_personalize_job_name_is_deterministic(name):
    assert names.personalize_job_name(name) == names.personalize_job_name(name)


def test_personalize_job_name_custom_max_length():
    job_name = names.personalize_job_name("a.b.c.d.e.f.g.h.i.j.k", max_length=20)
    assert len(job_name) <= 20 and PERSONALIZE_JOB_NAME.fullmatch(job_name)
    assert names.personalize_job_name("short", max_length=20) == "short"


def test_bounded_name_keeps_short_names():
    assert names.bounded_name("weekly export 🚀") == "weekly export 🚀"
    assert names.bounded_name("x" * 63) == "x" * 63


def test_bounded_name_shortens_long_names_with_a_hash():
    long_name = "export-" + "z" * 73  # 80 characters, the Step Functions maximum
    bounded = names.bounded_name(long_name)
    assert len(bounded) == 63
    assert bounded.startswith(long_name[:54])
    assert re.fullmatch(r"-[0-9a-f]{8}", bounded[54:])
    assert names.bounded_name(long_name) == bounded
    assert names.bounded_name(long_name[:-1] + "y") != bounded
    assert len(names.bounded_name("q" * 200, max_length=20)) == 20
