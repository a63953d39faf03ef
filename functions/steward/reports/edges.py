"""Off-hours around an edge: the heads-up before services stop, and the alert when a restored service has not come
back."""

from collections.abc import Sequence
from datetime import datetime

from steward.domain import slack as blocks
from steward.domain.edges import HeadsUp, NotBack
from steward.domain.services import ServiceView, channel_of

MOST_COMMANDS = 5  # keep-awake commands spelled out; the rest are named


def heads_up_messages(heads_up: HeadsUp, now: datetime, region: str, *, dry_run: bool) -> list[blocks.SlackMessage]:
    """One message for Steward's channel and one for each team channel with its own services."""
    by_channel: dict[str | None, list[int]] = {None: list(range(len(heads_up.services)))}
    for index, service in enumerate(heads_up.services):
        if channel := channel_of(service.tags):
            by_channel.setdefault(channel, []).append(index)
    return [
        _heads_up([heads_up.services[i] for i in indexes], heads_up, now, region, dry_run=dry_run, channel=channel)
        for channel, indexes in by_channel.items()
    ]


def _heads_up(
    services: Sequence[ServiceView],
    heads_up: HeadsUp,
    now: datetime,
    region: str,
    *,
    dry_run: bool,
    channel: str | None,
) -> blocks.SlackMessage:
    minutes = max(1, round((heads_up.edge.at - now).total_seconds() / 60))
    title = (
        f"{'[dry run] ' if dry_run else ''}Heads-up: {heads_up.schedule} stops {len(services)} service(s) at "
        f"{blocks.when(heads_up.edge.at)} (in {minutes} min)"
    )
    names = [_linked(service, region) for service in services]
    until = heads_up.back_at or heads_up.edge.at
    commands = [f"`{blocks.keep_awake_command(s.arn, until)}`" for s in services[:MOST_COMMANDS] if s.arn]
    back = f"They come back at {blocks.when(heads_up.back_at)}." if heads_up.back_at else "No start is scheduled."
    keep = (
        f"To keep one running until then, tag it `steward:keep-awake-until={blocks.when(until)}` before "
        f"{blocks.when(heads_up.edge.at)}:"
    )
    body = [
        blocks.header(title),
        *blocks.lines_in_sections(f"*Stopping at {heads_up.edge.local}*", names, most=20),
        blocks.section(f"{back} {keep}"),
        *blocks.lines_in_sections("", commands, most=5),
    ]
    return blocks.SlackMessage(text=title, blocks=tuple(body), channel=channel)


def not_back_messages(found: NotBack, region: str, *, dry_run: bool) -> list[blocks.SlackMessage]:
    """For Steward's channel, and the service's team channel if it has one."""
    message = _not_back(found, region, dry_run=dry_run)
    team = channel_of(found.service.tags)
    return [message] + ([blocks.SlackMessage(message.text, message.blocks, team)] if team else [])


def _not_back(found: NotBack, region: str, *, dry_run: bool) -> blocks.SlackMessage:
    service = found.service
    title = (
        f"{'[dry run] ' if dry_run else ''}Did not come back: {service.key} runs {service.running_count} of "
        f"{found.expected} task(s) since its start at {blocks.when(found.restored_at)}"
    )
    detail = (
        f"{_linked(service, region)} was restored to {found.expected} task(s) at {blocks.when(found.restored_at)} "
        f"and runs {service.running_count}. The service's events say why (e.g. no capacity, a failing health "
        "check, an image that cannot be pulled); Steward does not retry a start."
    )
    return blocks.SlackMessage(text=title, blocks=(blocks.header(title), blocks.section(detail)))


def _linked(service: ServiceView, region: str) -> str:
    url = blocks.ecs_service_url(region, service.cluster, service.name)
    return blocks.link(url, service.key) if url else f"`{service.key}`"
