"""The one step that puts a service Spot fallback moved to on-demand back on its original strategy: for the Spot
shift-back tick, for `steward restore-all`, and for the stack's own deletion (a service must not stay on dearer
on-demand capacity because Steward went away). A strategy someone changed since is left alone and the episode
forgotten; a transient AWS error leaves the episode for a retry."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from msgspec import Struct

from steward.adapters.aws import is_transient
from steward.adapters.slack import SlackNotifier
from steward.adapters.spot_ecs import SpotEcs
from steward.adapters.spot_episodes import OpenEpisode, SpotEpisodes
from steward.adapters.state import StateUnavailable
from steward.apply import Applied, Change, Status, apply
from steward.domain.spot import SpotService, Verdict, decide_shift_back, describe_strategy, judge_shift_back
from steward.observability import logger, metrics
from steward.reports import spot_fallback as report


class ShiftBack(Struct, frozen=True):
    ecs: SpotEcs
    episodes: SpotEpisodes
    slack: SlackNotifier | None  # None: the caller reports every outcome itself (restore-all, restore on delete)
    dry_run: bool
    stable: timedelta  # Spot quiet this long before a service goes back (zero: now)


def shift_back_one(step: ShiftBack, item: OpenEpisode, now: datetime) -> tuple[dict[str, Any], Exception | None]:
    """One episode's service back to its original strategy, or why not; the error a retry should see, if any."""
    episode = item.episode
    if now - episode.last_signal_at < step.stable:
        return result(item.label, "waiting", judge_shift_back(episode, episode.fallback, now, step.stable).reason), None
    try:
        service = step.ecs.spot_service(item.cluster, item.name)
    except (ClientError, BotoCoreError) as error:
        return shift_back_failed(step, item, None, error)
    verdict = decide_shift_back(episode, service, now, step.stable)
    applied = settled(apply(plan_shift_back(step, item, verdict), dry_run=step.dry_run, raise_transient=False))
    if isinstance(applied.cause, ClientError | BotoCoreError):
        return shift_back_failed(step, item, service, applied.cause)
    if not verdict.act or service is None:
        return result(item.label, "forgotten", verdict.reason), None
    if applied.status is Status.DONE:
        metrics.add_metric(name="SpotShiftBacks", unit=MetricUnit.Count, value=1)
    if step.slack is not None:
        step.slack.post(report.shift_back(service, episode, now, dry=applied.status is Status.DRY_RUN))
    reason = f"{verdict.reason}; back to {describe_strategy(episode.original)}"
    return result(item.label, "shifted back", reason), None


def plan_shift_back(step: ShiftBack, item: OpenEpisode, verdict: Verdict) -> Change[Verdict]:
    """Back to the original strategy and the episode forgotten; or only forgotten, when it is no longer ours."""
    forget = partial(step.episodes.forget, item.cluster, item.name)
    if not verdict.act:
        return Change(verdict, make=forget)
    return Change(
        verdict, make=partial(step.ecs.set_strategy, item.cluster, item.name, item.episode.original), record=forget
    )


def shift_back_failed(
    step: ShiftBack, item: OpenEpisode, service: SpotService | None, error: ClientError | BotoCoreError
) -> tuple[dict[str, Any], Exception | None]:
    metrics.add_metric(name="SpotShiftBackFailures", unit=MetricUnit.Count, value=1)
    if is_transient(error):
        # The episode stays as it is, so the next tick (or Lambda's retry of this one) tries again.
        logger.warning("spot shift back deferred", extra={"service": item.label, "error": str(error)})
        return result(item.label, "deferred", str(error)), error
    logger.error("spot shift back failed", extra={"service": item.label, "error": str(error)})
    close = Change(item, make=partial(step.episodes.forget, item.cluster, item.name))
    settled(apply(close, dry_run=step.dry_run))  # closed: reported once, not every tick
    if step.slack is not None:
        step.slack.post(report.shift_back_failure(item.cluster, item.name, service, item.episode, str(error)))
    return result(item.label, "failed", str(error)), None


def settled[DecisionT](applied: Applied[DecisionT]) -> Applied[DecisionT]:
    """The state table failing is raised, as every state error is: Lambda retries the event."""
    if isinstance(applied.cause, StateUnavailable):
        raise applied.cause
    return applied


def result(service: str, outcome: str, reason: str) -> dict[str, Any]:
    return {"service": service, "outcome": outcome, "reason": reason}
