"""The steps both cost digests share, the account's and the organisation's: the day's digest posted once (the first
delivery claims the day; a post Slack refused gives the claim back), each team's copy after it, and the once-a-day
notice when Cost Explorer refuses."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial

from aws_lambda_powertools.metrics import MetricUnit

from steward.adapters.costs import DigestDay, UnavailableNotice
from steward.adapters.slack import SlackNotifier
from steward.adapters.state import StateStore
from steward.apply import Applied, Change, Status, apply
from steward.domain.costs import Unavailable
from steward.domain.slack import SlackMessage
from steward.observability import metrics


class DigestNotPosted(RuntimeError):
    """Slack did not take the digest; the day's claim is released, so a retry of the schedule may post it."""


def publish[DigestT](
    state: StateStore, digest: DigestT, day: date, post: partial[None], now: datetime, *, dry_run: bool
) -> Applied[DigestT]:
    """The digest about `day`, posted once."""
    change = Change(digest, make=post, claim=DigestDay(state, day, now))
    try:
        return apply(change, dry_run=dry_run)
    except DigestNotPosted as refused:  # apply released the claim on the way out
        return Applied(digest, Status.FAILED, cause=refused)


def post_with_copies(slack: SlackNotifier, message: SlackMessage, teams: list[SlackMessage]) -> None:
    """The digest to Steward's channel, then each team's copy; Slack refusing the digest itself undoes the claim."""
    posted = slack.post(message)
    for team in teams:
        slack.post(team)
    if posted is None and slack.enabled:
        raise DigestNotPosted("Slack did not take the digest")


def tell_unavailable(
    state: StateStore,
    slack: SlackNotifier,
    unavailable: Unavailable,
    message: SlackMessage,
    *,
    today: date,
    now: datetime,
    dry_run: bool,
) -> None:
    """Once a day, through the day's notice claim; a dry run writes no claim and says so every time."""
    claim = UnavailableNotice(state, today, unavailable.reason, now)
    if apply(Change(unavailable, make=_told, claim=claim), dry_run=dry_run).changed:
        slack.post(message)
    metrics.add_metric(name="DigestFailures", unit=MetricUnit.Count, value=1)


def _told() -> None:
    """Posting the notice is the report's part; the claim already recorded that the channel hears of it today."""
