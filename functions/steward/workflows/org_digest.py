"""The organisation cost digest, from the management account: one Cost Explorer query grouped by linked account and
cost tag (all its pages), one forecast for the organisation total, the accounts' names; the digest to Steward's
channel and each team's slice to its own. A failed query is said once a day, never shown as zeros.

observe (Cost Explorer, Organizations) -> decide (steward.domain.org_costs builds the digest) -> apply (the day's
claim, then the posts) -> report (steward.reports.org_digest builds every message and the result).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from steward.adapters import slack as slack_actions
from steward.adapters import state as state_actions
from steward.adapters.costs import CostsUnavailable
from steward.adapters.org_costs import ORG_DIGEST_ACTIONS, Organization, OrgCosts
from steward.apply import Status
from steward.daily_digest import post_with_copies, publish, tell_unavailable
from steward.domain.costs import Unavailable, forecast_window
from steward.domain.org_costs import build_org_digest, org_window
from steward.observability import logger, metrics
from steward.reports.org_digest import org_digest_result, render_org_digest, team_messages, unavailable_message
from steward.runtime import Runtime
from steward.settings.org_digest import OrgDigestSettings

IAM_ACTIONS = ORG_DIGEST_ACTIONS | slack_actions.IAM_ACTIONS | {state_actions.WRITE, state_actions.DELETE}


class OrgDigestUnavailable(RuntimeError):
    """The organisation digest could not be built; Steward's channel was told why."""


def run_org_digest(rt: Runtime[OrgDigestSettings], now: datetime) -> dict[str, Any]:
    settings, today = rt.settings, now.astimezone(UTC).date()
    costs = OrgCosts(rt.aws)
    try:
        rows, pages = costs.account_costs(*org_window(today), settings.cost_tag_key, settings.cost_metric)
    except CostsUnavailable as error:
        unavailable = Unavailable(str(error))
        message = unavailable_message(unavailable.reason)
        tell_unavailable(rt.state, rt.slack, unavailable, message, today=today, now=now, dry_run=settings.dry_run)
        raise OrgDigestUnavailable(f"org cost digest unavailable: {error}") from error
    forecast = costs.month_forecast(*forecast_window(today), settings.cost_metric)
    names = Organization(rt.aws).account_names()
    digest = build_org_digest(rows, today, forecast=forecast, team_channels=settings.team_channels)
    message = render_org_digest(digest, names, settings.top_lines, dry_run=settings.dry_run)
    teams = team_messages(digest, names)
    requests = pages + 1  # every page of the one query, and the forecast
    metrics.add_metric(name="CostExplorerRequests", unit=MetricUnit.Count, value=requests)
    post = partial(post_with_copies, rt.slack, message, teams)
    applied = publish(rt.state, digest, digest.yesterday, post, now, dry_run=settings.dry_run)
    if applied.status is Status.DRY_RUN:
        logger.info("org cost digest (dry run)", extra={"text": message.text, "team_messages": len(teams)})
    elif applied.status is not Status.DUPLICATE:
        metrics.add_metric(name="OrgDigestsPosted", unit=MetricUnit.Count, value=1)
    return org_digest_result(applied, message, len(teams), requests)
