"""The tests' own judge of requests: does a value fit a botocore service model's shape, in every rule it states?

Independent of the product's ``lambda/jobkit/model_rules.py`` (nothing is imported from it, nothing is shared):
the unit tier's request checks and the HTTP fakes use this module, so a rule the product's checker gets wrong
or skips is still enforced on the test side.

What is checked, walking botocore's ``Shape`` tree: required members, unknown members, each member's type
(structure, union, list, map, string, integer/long, float/double, boolean, timestamp, blob), minimum and
maximum lengths of strings (in code points, as Smithy counts them), blobs, lists and maps, enums, numeric
ranges and string patterns, matched in full (the whole value, as the services' Java validators do).

Patterns are written in Java's regex dialect (Smithy models, Java services). :func:`python_pattern` translates
them construct by construct, with Java's meanings: ``\\d``, ``\\w``, ``\\s`` are ASCII only; ``.`` excludes
every Java line terminator; ``$`` is "end, or before a final line terminator"; ``\\p{L}`` and the other
Unicode general categories become the exact code-point sets from ``unicodedata`` (Python's Unicode version,
which may be a few versions apart from Java's); the POSIX ``\\p{Alpha}``-style classes are ASCII;
``\\uD800\\uDC00``-style surrogate pairs are the code point they encode. Anything else (nested or intersected
classes, inline flags, back-references, word boundaries, ``\\Q..\\E``, scripts and blocks, a lone surrogate,
...) raises :class:`UntranslatablePattern`: a rule this module cannot read is an error, never a skipped check.

One deliberate reading: AWS models write the XML ``Char`` range U+10000..U+10FFFF as the scrambled
``\\uD800\\uDBFF-\\uDC00\\uDFFF`` (a pair of lone-surrogate ranges if taken literally, which would make every
emoji invalid in names the services document as free text). That exact sequence is read as U+10000..U+10FFFF;
any other lone surrogate still raises.

Messages name the rule, never the value (values may be user data).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Iterator

from botocore.model import ServiceModel, Shape


class UntranslatablePattern(ValueError):
    """A model pattern uses a construct this module cannot translate from Java's dialect."""


class UncheckableShape(TypeError):
    """A shape type this module does not know how to check."""


# ---- Java regex -> Python regex -------------------------------------------------------------------------

#: Java's line terminators (without UNIX_LINES): what ``.`` excludes and ``$`` may precede.
_TERMINATORS = "\n\r\u0085\u2028\u2029"
_DOT = "[^" + "".join(f"\\U{ord(c):08x}" for c in _TERMINATORS) + "]"
_END = "(?=(?:\\r\\n|[" + "".join(f"\\U{ord(c):08x}" for c in _TERMINATORS) + "])?\\Z)"
_XML_ASTRAL_SCRAMBLED = "\\uD800\\uDBFF-\\uDC00\\uDFFF"
_XML_ASTRAL = "\\x{10000}-\\x{10FFFF}"

#: ``\d \w \s`` (ASCII in Java unless UNICODE_CHARACTER_CLASS) as class bodies; upper case negates.
_SHORTHANDS = {"d": "0-9", "w": "a-zA-Z_0-9", "s": " \\t\\n\\x0b\\x0c\\r"}
#: Java's POSIX classes (US-ASCII only) as class bodies.
_POSIX = {
    "ASCII": "\\x00-\\x7f", "Lower": "a-z", "Upper": "A-Z", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "XDigit": "0-9a-fA-F", "Blank": " \\t", "Space": " \\t\\n\\x0b\\x0c\\r",
    "Cntrl": "\\x00-\\x1f\\x7f", "Punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
_POSIX["Graph"] = _POSIX["Alnum"] + _POSIX["Punct"]
_POSIX["Print"] = _POSIX["Graph"] + " "
_GENERAL_CATEGORIES = {
    "L": "Lu Ll Lt Lm Lo", "M": "Mn Mc Me", "N": "Nd Nl No", "P": "Pc Pd Ps Pe Pi Pf Po", "S": "Sm Sc Sk So",
    "Z": "Zs Zl Zp", "C": "Cc Cf Cs Co Cn",
}
_SIMPLE_ESCAPES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}


def _cp(code_point: int) -> str:
    return f"\\U{code_point:08x}"


@lru_cache(maxsize=1)
def _category_runs() -> tuple[tuple[int, int, str], ...]:
    """Maximal runs ``(first, last, category)`` of code points sharing a general category."""
    runs: list[tuple[int, int, str]] = []
    start, current = 0, unicodedata.category("\x00")
    for code_point in range(1, 0x110000):
        category = unicodedata.category(chr(code_point))
        if category != current:
            runs.append((start, code_point - 1, current))
            start, current = code_point, category
    runs.append((start, 0x10FFFF, current))
    return tuple(runs)


@lru_cache(maxsize=None)
def _category_body(name: str) -> str:
    """The class body (``\\U..-\\U..`` ranges) of a Unicode general category or major class (``L``, ``Lu``)."""
    wanted = set(_GENERAL_CATEGORIES.get(name, name).split())
    merged: list[list[int]] = []
    for first, last, category in _category_runs():
        if category in wanted:
            if merged and merged[-1][1] == first - 1:
                merged[-1][1] = last
            else:
                merged.append([first, last])
    return "".join(_cp(a) if a == b else f"{_cp(a)}-{_cp(b)}" for a, b in merged)


def _property_body(name: str, pattern: str) -> str:
    """``\\p{name}`` as a class body."""
    if name in _POSIX:
        return _POSIX[name]
    category = name[2:] if name.startswith("Is") else name[3:] if name.startswith("gc=") else name
    known = set(_GENERAL_CATEGORIES) | {c for group in _GENERAL_CATEGORIES.values() for c in group.split()}
    if category in known:
        return _category_body(category)
    raise UntranslatablePattern(f"\\p{{{name}}} (a script, block or binary property) in {pattern!r}")


class _Reader:
    """One pass over a Java pattern, writing the Python equivalent."""

    def __init__(self, pattern: str) -> None:
        self.original = pattern
        self.text = pattern.replace(_XML_ASTRAL_SCRAMBLED, _XML_ASTRAL)
        self.pos = 0

    def fail(self, what: str) -> UntranslatablePattern:
        return UntranslatablePattern(f"{what} at offset {self.pos} of {self.original!r}")

    def peek(self, text: str) -> bool:
        return self.text.startswith(text, self.pos)

    def translate(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                kind, body = self.escape()
                out.append(body if kind == "atom" else f"[{body}]" if kind == "class" else _cp(body))
            elif char == "[":
                out.append(self.char_class())
            elif char == "(":
                out.append(self.group_open())
            elif char in ")|*+?":
                out.append(char)
                self.pos += 1
            elif char == "{":
                match = re.compile(r"\{\d+(,\d*)?\}").match(self.text, self.pos)
                if match is None:
                    raise self.fail("a '{' that is not a bounded quantifier")
                out.append(match.group(0))
                self.pos = match.end()
            elif char == ".":
                out.append(_DOT)
                self.pos += 1
            elif char == "^":
                out.append("\\A")
                self.pos += 1
            elif char == "$":
                out.append(_END)
                self.pos += 1
            else:
                out.append(re.escape(char))
                self.pos += 1
        return "".join(out)

    def group_open(self) -> str:
        for java, python in (("(?:", "(?:"), ("(?=", "(?="), ("(?!", "(?!"), ("(?<=", "(?<="), ("(?<!", "(?<!")):
            if self.peek(java):
                self.pos += len(java)
                return python
        named = re.compile(r"\(\?<([A-Za-z][A-Za-z0-9]*)>").match(self.text, self.pos)
        if named is not None:
            self.pos = named.end()
            return f"(?P<{named.group(1)}>"
        if self.peek("(?"):
            raise self.fail("an inline flag, atomic group or other (? construct")
        self.pos += 1
        return "("

    def char_class(self) -> str:
        self.pos += 1
        out = ["["]
        if self.peek("^"):
            out.append("^")
            self.pos += 1
        if self.peek("]"):
            raise self.fail("a ']' first in a class")
        while True:
            if self.pos >= len(self.text):
                raise self.fail("an unterminated character class")
            char = self.text[self.pos]
            if char == "]":
                self.pos += 1
                out.append("]")
                return "".join(out)
            if char == "[":
                raise self.fail("a nested class (a union in Java)")
            if self.peek("&&"):
                raise self.fail("a class intersection")
            if char == "\\":
                kind, body = self.escape(in_class=True)
                if kind == "atom":
                    raise self.fail("an escape that is not a set of characters inside a class")
                out.append(body if kind == "class" else _cp(body))
            elif char == "-":
                out.append("-")
                self.pos += 1
            else:
                out.append(re.escape(char))
                self.pos += 1

    def escape(self, in_class: bool = False) -> tuple[str, Any]:
        """``("char", code point)``, ``("class", class body)`` or ``("atom", Python regex)``."""
        self.pos += 1
        if self.pos >= len(self.text):
            raise self.fail("a trailing backslash")
        char = self.text[self.pos]
        self.pos += 1
        if char.lower() in _SHORTHANDS:
            body = _SHORTHANDS[char.lower()]
            if char.islower():
                return "class", body
            if in_class:
                raise self.fail(f"\\{char} (a negated shorthand) inside a class")
            return "atom", f"[^{body}]"
        if char in _SIMPLE_ESCAPES:
            return "char", _SIMPLE_ESCAPES[char]
        if char == "x":
            match = re.compile(r"\{([0-9a-fA-F]{1,6})\}|([0-9a-fA-F]{2})").match(self.text, self.pos)
            if match is None:
                raise self.fail("a malformed \\x escape")
            self.pos = match.end()
            return "char", self.scalar(int(match.group(1) or match.group(2), 16))
        if char == "u":
            return "char", self.utf16_unit()
        if char in "pP":
            match = re.compile(r"\{([A-Za-z_=&]+)\}|([A-Z])").match(self.text, self.pos)
            if match is None:
                raise self.fail("a malformed \\p escape")
            self.pos = match.end()
            body = _property_body(match.group(1) or match.group(2), self.original)
            if char == "p":
                return "class", body
            if in_class:
                raise self.fail("\\P (a negated property) inside a class")
            return "atom", f"[^{body}]"
        if char == "A" and not in_class:
            return "atom", "\\A"
        if char == "z" and not in_class:
            return "atom", "\\Z"
        if char == "Z" and not in_class:
            return "atom", _END
        if char.isascii() and char.isalnum():
            raise self.fail(f"\\{char} (not translated: boundary, back-reference, quoting or octal)")
        return "char", ord(char)  # an escaped punctuation character stands for itself

    def utf16_unit(self) -> int:
        match = re.compile(r"[0-9a-fA-F]{4}").match(self.text, self.pos)
        if match is None:
            raise self.fail("a malformed \\u escape")
        self.pos = match.end()
        unit = int(match.group(0), 16)
        if 0xD800 <= unit <= 0xDBFF:
            low = re.compile(r"\\u(d[c-f][0-9a-f]{2})", re.I).match(self.text, self.pos)
            if low is not None:
                self.pos = low.end()
                return 0x10000 + ((unit - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        return self.scalar(unit)

    def scalar(self, code_point: int) -> int:
        if 0xD800 <= code_point <= 0xDFFF:
            raise self.fail("a lone surrogate")
        if code_point > 0x10FFFF:
            raise self.fail("a code point beyond U+10FFFF")
        return code_point


@lru_cache(maxsize=None)
def python_pattern(java: str) -> re.Pattern[str]:
    """The Python regex equivalent to the Java pattern ``java``; raises :class:`UntranslatablePattern`."""
    translated = _Reader(java).translate()
    try:
        return re.compile(translated)
    except re.error as error:
        raise UntranslatablePattern(f"{java!r} translated to an invalid Python pattern: {error}") from error


# ---- shapes -----------------------------------------------------------------------------------------------

_NUMBERS = {"integer": (int,), "long": (int,), "float": (int, float), "double": (int, float)}


def _bounds(meta: dict[str, Any], measured: float, label: str, unit: str = "") -> list[str]:
    """The shape's ``min``/``max`` against a length in ``unit``s, or against the number itself (no unit)."""
    verb, suffix, has = ("have", f" {unit}", f" (has {measured})") if unit else ("be", "", "")
    found = []
    if "min" in meta and measured < meta["min"]:
        found.append(f"{label} must {verb} at least {meta['min']}{suffix}")
    if "max" in meta and measured > meta["max"]:
        found.append(f"{label} must {verb} at most {meta['max']}{suffix}{has}")
    return found


def problems(shape: Shape, value: Any, label: str) -> list[str]:
    """Every rule of ``shape`` that ``value`` breaks (empty when it fits); raises on a rule it cannot read."""
    meta, kind = shape.metadata, shape.type_name
    if kind == "structure":
        return _structure_problems(shape, value, label)
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            return [f"{label} must be a list"]
        found = _bounds(meta, len(value), label, "items")
        for index, item in enumerate(value):
            found += problems(shape.member, item, f"{label}[{index}]")
        return found
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{label} must be a map"]
        found = _bounds(meta, len(value), label, "entries")
        for key, item in value.items():
            found += problems(shape.key, key, f"{label} key") + problems(shape.value, item, f"{label}[]")
        return found
    if kind == "string":
        if not isinstance(value, str):
            return [f"{label} must be a string"]
        found = _bounds(meta, len(value), label, "characters")
        if shape.enum and value not in shape.enum:
            found.append(f"{label} must be one of {', '.join(shape.enum)}")
        if "pattern" in meta and not python_pattern(meta["pattern"]).fullmatch(value):
            found.append(f"{label} must match the pattern {meta['pattern']}")
        return found
    if kind in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, _NUMBERS[kind]):
            return [f"{label} must be a number of type {kind}"]
        return _bounds(meta, value, label)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{label} must be a boolean"]
    if kind == "timestamp":
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if number or isinstance(value, (datetime, date, str)) else [f"{label} must be a timestamp"]
    if kind == "blob":
        if isinstance(value, (bytes, bytearray, str)):
            return _bounds(meta, len(value), label, "bytes")
        return [] if hasattr(value, "read") else [f"{label} must be bytes"]
    raise UncheckableShape(f"{label}: shape {shape.name} of type {kind!r} is not checked by this module")


def _structure_problems(shape: Shape, value: Any, label: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{label} must be an object"]
    found = [f"{label}.{name} is required" for name in shape.required_members if name not in value]
    for name, item in value.items():
        if name not in shape.members:
            found.append(f"{label}.{name} is not a member of {shape.name}")
        else:
            found += problems(shape.members[name], item, f"{label}.{name}")
    if shape.metadata.get("union") and len(value) != 1:
        found.append(f"{label} must set exactly one member (a union), not {len(value)}")
    return found


def request_problems(model: ServiceModel, operation: str, params: dict[str, Any]) -> list[str]:
    """Every rule of ``operation``'s input shape that ``params`` breaks (labels start with the operation)."""
    shape = model.operation_model(operation).input_shape
    if shape is None:
        return [] if not params else [f"{operation} takes no parameters"]
    return problems(shape, params, operation)


def member_shape(model: ServiceModel, operation: str, *path: str) -> Shape:
    """The shape at ``path`` (member names, ``[]`` for a list's items) of ``operation``'s input."""
    shape = model.operation_model(operation).input_shape
    for step in path:
        shape = shape.member if step == "[]" else shape.members[step]
    return shape


def patterns(shape: Shape, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """``(path, pattern)`` for every string pattern reachable from ``shape`` (recursive shapes visited once)."""
    yield from _patterns(shape, path, frozenset())


def _patterns(shape: Shape, path: tuple[str, ...], seen: frozenset[str]) -> Iterator[tuple[tuple[str, ...], str]]:
    if shape.name in seen:
        return
    seen = seen | {shape.name}
    if shape.type_name == "string" and "pattern" in shape.metadata:
        yield path, shape.metadata["pattern"]
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            yield from _patterns(member, (*path, name), seen)
    elif shape.type_name == "list":
        yield from _patterns(shape.member, (*path, "[]"), seen)
    elif shape.type_name == "map":
        yield from _patterns(shape.key, (*path, "{key}"), seen)
        yield from _patterns(shape.value, (*path, "{}"), seen)


def assert_translatable(model: ServiceModel, operations: list[str]) -> None:
    """Translate every pattern of these operations' inputs now: raises :class:`UntranslatablePattern` early."""
    for operation in operations:
        shape = model.operation_model(operation).input_shape
        for _, pattern in patterns(shape) if shape is not None else ():
            python_pattern(pattern)
