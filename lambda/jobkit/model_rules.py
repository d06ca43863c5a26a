"""Check values against the constraints of a botocore service model.

botocore validates required members, types and minimum lengths before sending a
request, but not patterns, maximum lengths, enums or numeric ranges. The
functions check those here, against the very model the runtime's boto3 carries,
so that bad input is rejected with a clear message before any job is started.
Messages describe the rule, never the offending value.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from botocore.model import Shape

# Smithy patterns follow Java's regex dialect and UTF-16 semantics. Python's
# ``re`` lacks Unicode property classes, and Python strings hold whole code
# points, so translate: astral characters written as surrogate ranges become a
# code-point range; ``\p{L}``/``\p{N}`` become ``\w`` (letters, digits and ``_``:
# exact where the models use them, beside ``_`` in one class) and ``\p{Z}`` the
# Unicode separators themselves (not ``\s``, which would let a tab or a newline
# through that the service refuses).
_SEPARATORS = "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_TRANSLATIONS = (
    ("\\uD800\\uDBFF-\\uDC00\\uDFFF", "\\U00010000-\\U0010FFFF"),
    ("\\p{L}", "\\w"),
    ("\\p{N}", "\\w"),
)


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """The pattern in Python's dialect, or None when it cannot be translated (then it is not checked)."""
    for java, python in _TRANSLATIONS:
        pattern = pattern.replace(java, python)
    pattern = _separators(pattern)
    try:
        return re.compile(pattern)
    except re.error:
        return None


#: Longest field name quoted in a message (an input may carry a name of any length).
MAX_NAME = 64
_JSON_TYPES = ((bool, "true or false"), (str, "a string"), (int, "a number"), (float, "a number"),
               (list, "a list"), (dict, "an object"))


def json_type(value: Any) -> str:
    """The kind of JSON value ``value`` is, for a message (never the value itself)."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def object_problems(value: Any, example: str) -> list[str]:
    """The problem with an execution input that is not a JSON object (empty when it is one)."""
    if isinstance(value, dict):
        return []
    return [f"the execution input must be a JSON object such as {example}; it is {json_type(value)}"]


def field_name(name: str) -> str:
    """A field name as quoted in a message: at most :data:`MAX_NAME` characters."""
    return name if len(name) <= MAX_NAME else f"{name[:MAX_NAME]}... ({len(name)} characters)"


def unknown_fields(data: dict[str, Any], known: tuple[str, ...]) -> list[str]:
    """One problem per member of ``data`` that is not one of ``known``."""
    return [f"{field_name(key)} is not a known field (known: {', '.join(known)})" for key in data if key not in known]


def _separators(pattern: str) -> str:
    """``\\p{Z}`` as the separator ranges inside a character class, or as a class of them outside one."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        if pattern.startswith("\\p{Z}", i):
            out.append(_SEPARATORS if in_class else f"[{_SEPARATORS}]")
            i += len("\\p{Z}")
            continue
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def member_shape(api: Any, operation: str, *path: str) -> Shape:
    """The shape of ``path`` (member names, ``[]`` for list items) in an operation's input.

    ``api`` is a client or a botocore ``ServiceModel``.
    """
    service_model = api.meta.service_model if hasattr(api, "meta") else api
    shape = service_model.operation_model(operation).input_shape
    for step in path:
        shape = shape.member if step == "[]" else shape.members[step]
    return shape


def _length_problems(label: str, meta: dict[str, Any], length: int, unit: str) -> list[str]:
    if "min" in meta and length < meta["min"]:
        return [f"{label} must have at least {meta['min']} {unit}"]
    if "max" in meta and length > meta["max"]:
        return [f"{label} must have at most {meta['max']} {unit} (has {length})"]
    return []


def problems(shape: Shape, value: Any, label: str) -> list[str]:
    """Every way ``value`` breaks ``shape``'s constraints (empty when it fits)."""
    meta = shape.metadata
    kind = shape.type_name
    found: list[str] = []
    if kind == "string":
        if not isinstance(value, str):
            return [f"{label} must be a string"]
        found += _length_problems(label, meta, len(value), "characters")
        if shape.enum and value not in shape.enum:
            found.append(f"{label} must be one of {', '.join(shape.enum)}")
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            found.append(f"{label} must match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{label} must be an integer"]
        if "min" in meta and value < meta["min"]:
            found.append(f"{label} must be at least {meta['min']}")
        if "max" in meta and value > meta["max"]:
            found.append(f"{label} must be at most {meta['max']}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{label} must be a list"]
        found += _length_problems(label, meta, len(value), "items")
        for index, item in enumerate(value):
            found += problems(shape.member, item, f"{label}[{index}]")
    elif kind == "structure":
        if not isinstance(value, dict):
            return [f"{label} must be an object"]
        for name in shape.required_members:
            if name not in value:
                found.append(f"{label}.{name} is required")
        for name, item in value.items():
            if name not in shape.members:
                found.append(f"{label}.{field_name(name)} is not a known field")
            else:
                found += problems(shape.members[name], item, f"{label}.{name}")
    return found
