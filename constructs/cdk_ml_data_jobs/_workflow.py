"""What the two workflow constructs share: polling settings and function environments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam

from ._checks import nag_acknowledge


@dataclass(frozen=True)
class Polling:
    """Adaptive polling bounds (see ``lambda/jobkit/schedule.py``)."""

    min_interval: Duration
    max_interval: Duration
    growth: float
    job_timeout: Duration

    def problems(self) -> list[str]:
        found = []
        low, high = self.min_interval.to_seconds(), self.max_interval.to_seconds()
        if low < 1:
            found.append("min_poll_interval must be at least 1 second")
        if high < low:
            found.append("max_poll_interval must not be shorter than min_poll_interval")
        if high > 86400:
            found.append("max_poll_interval must be at most 24 hours")
        if not 0 < self.growth <= 1:
            found.append("poll_growth must be in (0, 1]")
        if self.job_timeout.to_seconds() <= low:
            found.append("job_timeout must be longer than min_poll_interval")
        if self.job_timeout.to_seconds() > 364 * 86400:
            found.append("job_timeout must be under a year (the Step Functions limit)")
        return found

    def environment(self) -> dict[str, str]:
        return {
            "POLL_MIN_WAIT_SECONDS": str(int(self.min_interval.to_seconds())),
            "POLL_MAX_WAIT_SECONDS": str(int(self.max_interval.to_seconds())),
            "POLL_GROWTH": repr(float(self.growth)),
            "JOB_TIMEOUT_SECONDS": str(int(self.job_timeout.to_seconds())),
        }

    def state_machine_timeout(self, margin: Duration) -> Duration:
        """Backstop for the whole execution: the job timeout plus time for validation and retries."""
        return Duration.seconds(self.job_timeout.to_seconds() + margin.to_seconds())


def json_list(stack: Stack, values: Sequence[str]) -> str:
    """A list of (possibly token) strings as a JSON array for an environment variable."""
    return stack.to_json_string(list(values))


def acknowledge_wildcards(policy: iam.Policy, findings: dict[str, str]) -> None:
    """Acknowledge granular AwsSolutions-IAM5 findings on one policy, each with its reason."""
    for finding, reason in findings.items():
        nag_acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
