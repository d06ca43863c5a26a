"""The error every construct raises for invalid props."""

from __future__ import annotations

from typing import Iterable


class PropsError(ValueError):
    """Invalid construct props; the message lists every problem at once.

    ``problems`` holds the sentences, one per problem, so tests and tools can
    check them individually.
    """

    def __init__(self, construct: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{construct}: {len(self.problems)} invalid prop(s):\n{listed}")
