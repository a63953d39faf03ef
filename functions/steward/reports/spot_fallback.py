"""Spot fallback's Slack messages, built from what happened: each goes to the default channel and, where the service
names one, its team's channel."""

from __future__ import annotations

from datetime import datetime

from steward.domain import slack as blocks
from steward.domain.services import Strategy, channel_of
from steward.domain.spot import REMEMBER_REFUSAL, Episode, SpotService, describe_strategy


def fallback(service: SpotService, cause: str, to: Strategy, *, dry: bool) -> blocks.SlackMessage:
    title = f"{_dry(dry)}Spot fallback: {service.name} moved to on-demand"
    return _message(
        service,
        title,
        f"{title} ({cause})",
        _was_now(service, f"— {blocks.escape(cause)}", service.strategy, to),
        blocks.context("Steward shifts it back once Spot has been quiet for the stable period."),
    )


def failure(service: SpotService, cause: str, error: str) -> blocks.SlackMessage:
    title = f"Spot fallback failed: {service.name} is still on Spot"
    return _message(
        service,
        title,
        f"{title}: {error}",
        blocks.section(f"*{service_link(service)}* — {blocks.escape(cause)}\n`{blocks.escape(error[:500])}`"),
        blocks.context("Steward tries again on the next Spot signal for this service."),
    )


def refusal(service: SpotService, cause: str, reason: str, *, dry: bool) -> blocks.SlackMessage:
    title = f"{_dry(dry)}Spot fallback not possible: {service.name} stays on Spot"
    name = f"*{service_link(service)}*"
    minutes = int(REMEMBER_REFUSAL.total_seconds() // 60)
    return _message(
        service,
        title,
        f"{title}: {reason}",
        blocks.section(f"{name} — {blocks.escape(cause)}\n{blocks.escape(reason)}"),
        blocks.context(f"Said once; Steward looks again on a Spot signal after {minutes} min."),
    )


def shift_back(service: SpotService, episode: Episode, now: datetime, *, dry: bool) -> blocks.SlackMessage:
    minutes = int((now - episode.fell_back_at).total_seconds() // 60)
    duration = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    title = f"{_dry(dry)}Spot fallback over: {service.name} back on Spot"
    lead = f"ran on on-demand for {duration} after {blocks.escape(episode.cause)}."
    return _message(
        service,
        title,
        f"{title} after {duration} on on-demand",
        _was_now(service, lead, episode.fallback, episode.original),
    )


def shift_back_failure(
    cluster: str, name: str, service: SpotService | None, episode: Episode, error: str
) -> blocks.SlackMessage:
    title = f"Spot shift back failed: {name} stays on on-demand"
    strategy = " ".join(
        f"capacityProvider={item.provider},weight={item.weight},base={item.base}" for item in episode.original
    )
    command = (
        f"aws ecs update-service --cluster {cluster} --service {name} "
        f"--capacity-provider-strategy {strategy} --force-new-deployment"
    )
    return _message(
        service,
        title,
        f"{title}: {error}",
        blocks.section(
            f"*{blocks.escape(cluster)}/{blocks.escape(name)}* could not go back to "
            f"*{describe_strategy(episode.original)}*\n`{blocks.escape(error[:500])}`"
        ),
        blocks.section(
            "Steward has closed this episode and will not try again. To go back to Spot, set the strategy with a "
            f"new deployment:\n```{blocks.escape(command)}```"
        ),
        blocks.context("If steward:spot-fallback was removed from the service, it is no longer Steward's to change."),
    )


def _dry(dry: bool) -> str:
    return "[dry run] " if dry else ""


def _message(service: SpotService | None, title: str, text: str, *body: blocks.Block) -> blocks.SlackMessage:
    channel = channel_of(service.tags) if service else None
    return blocks.SlackMessage(text=text, channel=channel, blocks=(blocks.header(title), *body))


def service_link(service: SpotService) -> str:
    """CLUSTER/SERVICE linked to the service's page in the ECS console (the region is the one in its ARN)."""
    url = blocks.ecs_service_url(blocks.arn_region(service.arn), service.cluster, service.name)
    return blocks.link(url, f"{service.cluster}/{service.name}")


def _was_now(service: SpotService, lead: str, was: Strategy, now: Strategy) -> blocks.Block:
    name = f"*{service_link(service)}*"
    return blocks.section(
        f"{name} {lead}", fields=[f"*Was*\n{describe_strategy(was)}", f"*Now*\n{describe_strategy(now)}"]
    )
