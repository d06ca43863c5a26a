"""Job names derived from Step Functions execution names.

An execution name is unique within its state machine (for 90 days after it
closes) and is the same when a failed execution is redriven, so a job name
derived from it makes a retried or redriven launch find its own job instead of
starting a second one.
"""

from __future__ import annotations

import hashlib
import re

_PERSONALIZE_BAD = re.compile(r"[^A-Za-z0-9_-]")
_PERSONALIZE_BAD_RUNS = re.compile(r"[^A-Za-z0-9_-]+")


def _digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def personalize_job_name(execution_name: str, max_length: int = 63) -> str:
    """A name matching ``^[a-zA-Z0-9][a-zA-Z0-9\\-_]*`` of at most ``max_length`` characters.

    Unchanged when the execution name already fits; otherwise sanitised and
    suffixed with a hash of the original, so that two execution names that
    sanitise alike still give different job names.
    """
    name = execution_name
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) and len(name) <= max_length:
        return name
    cleaned = _PERSONALIZE_BAD.sub("-", name).lstrip("-_") or "job"
    suffix = "-" + _digest(execution_name)
    return cleaned[: max_length - len(suffix)].rstrip("-_") + suffix


def bounded_name(execution_name: str, max_length: int = 63) -> str:
    """The execution name, shortened with a hash suffix when it is too long."""
    if len(execution_name) <= max_length:
        return execution_name
    suffix = "-" + _digest(execution_name)
    return execution_name[: max_length - len(suffix)] + suffix


def upload_execution_name(bucket: str, key: str, version: str) -> str:
    """``up-<file stem>-<16 hex of bucket, key and version>``: at most 56 characters, valid as a
    Step Functions execution name and unchanged as a Personalize job name."""
    stem = key.rsplit("/", 1)[-1].removesuffix(".csv")
    stem = _PERSONALIZE_BAD_RUNS.sub("-", stem).strip("-_")[:36] or "file"
    return f"up-{stem}-{_digest(f'{bucket}/{key}#{version}', 16)}"


def derived_name(name: str, suffix: str, max_length: int = 63) -> str:
    """``<name>-<suffix>``, a Personalize name of at most ``max_length`` characters: ``name`` shortened and
    suffixed with a hash of itself when it would be too long, so two long names still derive different names.
    The same ``name`` always derives the same name (a retried or redriven step finds what it created)."""
    full = f"{name}-{suffix}"
    if len(full) <= max_length:
        return full
    tail = f"-{_digest(name)}-{suffix}"
    return name[: max_length - len(tail)].rstrip("-_") + tail


def overlap_job_name(job_name: str) -> str:
    """Name of the one additional deletion job started when training or an import overlapped the first."""
    return derived_name(job_name, "again")


def retrain_version_name(job_name: str) -> str:
    """Name of the solution version trained after the deletion (unique per solution: names are per solution)."""
    return derived_name(job_name, "retrain")
