"""What every event model shares: tolerant parsing, bounded strings, and the one-line account of a bad event.

The EventBridge envelope is in models/eventbridge.py: the budget alert (SNS) and the digests (schedule payloads) read
no EventBridge event, and each pydantic class costs a cold start."""

from typing import Annotated, Literal

from pydantic import ConfigDict, StringConstraints, ValidationError

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Arn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$", max_length=2048)]


# Every event model's configuration: fields AWS adds are ignored, and the validator is built on first use, so a handler
# pays only for the models it parses. A config rather than a common base class: each pydantic class costs a cold start.
TOLERANT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


# The `source` of every payload Steward's EventBridge Scheduler schedules send; each function's tick model (its `task`
# Literal, and `now`: the scheduled time, `<aws.scheduler.scheduled-time>`) lives with the other events it reads.
FromScheduler = Literal["steward.scheduler"]


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field, for the structured rejection log."""
    parts = []
    for issue in error.errors()[:5]:
        location = ".".join(str(part) for part in issue["loc"]) or "event"
        parts.append(f"{location}: {issue['msg']}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
