"""What a handler needs besides its event: settings, AWS clients, the state store, Slack — built once per container.

Also the one way a handler turns an event into a model, or into a clean rejection (SPEC §4): a structured log line
saying why, a `RejectedEvents` metric, a normal return, and no AWS call.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from aws_lambda_powertools.metrics import MetricUnit
from msgspec import Struct
from pydantic import BaseModel, Discriminator, Tag, ValidationError

from steward.adapters.aws import AwsClients
from steward.adapters.pause import PauseSwitch
from steward.adapters.slack import SlackNotifier
from steward.adapters.state import StateStore
from steward.models.base import describe_validation_error
from steward.observability import logger, metrics
from steward.reports.pause import paused
from steward.settings import Settings, load_settings

if TYPE_CHECKING:
    from pydantic import TypeAdapter

MAX_LOGGED_EVENT_CHARS = 2000


@cache
def shared_aws() -> AwsClients:
    """The container's AWS clients (each created on first use, after moto starts in tests)."""
    return AwsClients()


class Runtime[SettingsT: Settings](Struct):
    settings: SettingsT
    aws: AwsClients
    state: StateStore
    slack: SlackNotifier


def runtime[SettingsT: Settings](model: type[SettingsT]) -> Runtime[SettingsT]:
    settings = load_settings(model)
    aws = shared_aws()
    return Runtime(
        settings=settings,
        aws=aws,
        state=StateStore(aws, settings.state_table),
        slack=SlackNotifier(settings, aws),
    )


class Rejected(Struct, frozen=True):
    reason: str

    def result(self) -> dict[str, Any]:
        return {"outcome": "rejected", "reason": self.reason}


def held_back_by_pause[SettingsT: Settings](
    rt: Runtime[SettingsT], now: datetime, holds_back: str
) -> dict[str, Any] | None:
    """The result to return when the pause switch is on (said in Slack once per setting of the switch), else None."""
    switch = PauseSwitch(rt.aws, rt.state, rt.settings.pause_parameter)
    state = switch.state(now)
    if state is None:
        return None
    logger.warning("paused", extra={"why": state.why, "holds_back": holds_back})
    metrics.add_metric(name="PausedRuns", unit=MetricUnit.Count, value=1)
    if switch.first_notice(now):
        rt.slack.post(paused(state, rt.settings.pause_parameter, rt.settings.environment))
    return {"outcome": "paused", "reason": state.why, "held_back": holds_back}


def reject(reason: str, event: Any) -> Rejected:
    """Log why, count it, and hand back a result the handler returns as-is."""
    logger.warning("event rejected", extra={"rejection_reason": reason, "event_excerpt": _excerpt(event)})
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    return Rejected(reason)


def parse[ModelT: BaseModel](model: type[ModelT], event: Any) -> ModelT | Rejected:
    if not isinstance(event, dict):
        return reject(f"event is {type(event).__name__}, not a JSON object", event)
    try:
        return model.model_validate(event)
    except ValidationError as error:
        return reject(f"not a valid {model.__name__}: {describe_validation_error(error)}", event)
    except (ValueError, RecursionError) as error:
        return reject(f"not a valid {model.__name__}: {error}", event)


class Accepts:
    """The events a handler accepts: a union of models discriminated by the event's `detail-type` (EventBridge) or
    `source` (Steward's schedules), each model naming its own in a Literal. Built on first use, so a cold start does
    not pay for the validators."""

    def __init__(self, *models: type[BaseModel]) -> None:
        self.models = {kind: model for model in models for kind in _kinds(model)}

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        from pydantic import TypeAdapter  # its module loads with the first event that needs it, not at import

        members = tuple(Annotated[model, Tag(kind)] for kind, model in self.models.items())
        union: Any = Annotated[Union[members], Discriminator(event_kind)]  # noqa: UP007 (members known at run time)
        return TypeAdapter(union)

    def parse(self, event: Any) -> BaseModel | Rejected:
        if not isinstance(event, dict):
            return reject(f"event is {type(event).__name__}, not a JSON object", event)
        kind = event_kind(event)
        model = self.models.get(kind) if isinstance(kind, str) else None
        if model is None:
            expected = ", ".join(sorted(self.models))
            return reject(f"unrecognised event {str(kind)[:100]!r}: this function handles {expected}", event)
        try:
            parsed: BaseModel = self.adapter.validate_python(event)
        except ValidationError as error:
            return reject(f"not a valid {model.__name__}: {describe_validation_error(error)}", event)
        except (ValueError, RecursionError) as error:
            return reject(f"not a valid {model.__name__}: {error}", event)
        return parsed


def event_kind(event: Any) -> str | None:
    kind = event.get("detail-type") or event.get("source") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None


def _kinds(model: type[BaseModel]) -> tuple[str, ...]:
    """The `detail-type` (or, for schedules, `source`) values a model's Literal admits."""
    for field in ("detail_type", "source"):
        info = model.model_fields.get(field)
        if info is not None and get_origin(info.annotation) is Literal:
            return tuple(str(kind) for kind in get_args(info.annotation))
    raise TypeError(f"{model.__name__} declares no detail-type or source Literal")


def _excerpt(event: Any) -> str:
    try:
        text = json.dumps(event, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(event)
    return text[:MAX_LOGGED_EVENT_CHARS]
