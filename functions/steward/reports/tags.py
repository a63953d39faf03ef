"""The daily notice of steward:* tag values Steward cannot read: per service, the value, why, what Steward does
until it is fixed, and the exact command that fixes it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from steward.domain import slack as blocks
from steward.domain.databases import DatabaseView
from steward.domain.services import InvalidTag, ServiceView, TagProblem, channel_of

SERVICES_PER_MESSAGE = 40  # one section each, under Slack's 50 blocks with the header and footer


def fix_command(resource: ServiceView | DatabaseView, invalid: InvalidTag) -> str:
    """The AWS CLI command that sets a valid value (both overwrite the key they are given)."""
    if isinstance(resource, ServiceView):
        return f"aws ecs tag-resource --resource-arn {resource.arn} --tags key={invalid.tag},value={invalid.example}"
    return (
        f"aws rds add-tags-to-resource --resource-name {resource.arn} --tags Key={invalid.tag},Value={invalid.example}"
    )


def problem_lines(problem: TagProblem) -> list[str]:
    """The value and why, what Steward does meanwhile, and the fix: for Slack, the log and `steward plan`."""
    invalid = problem.invalid
    return [
        f"{invalid.tag}={invalid.value!r} {invalid.why}: {invalid.treated_as} until it is fixed",
        f"fix: {invalid.fix}",
        fix_command(problem.resource, invalid),
    ]


def invalid_tags_messages(problems: list[TagProblem], now: datetime) -> list[blocks.SlackMessage]:
    """One message for Steward's channel, and one for each team channel a service with a problem names."""
    if not problems:
        return []
    by_channel: dict[str | None, list[TagProblem]] = defaultdict(list)
    for problem in problems:
        by_channel[None].append(problem)
        if channel := channel_of(problem.resource.tags):
            by_channel[channel].append(problem)
    return [invalid_tags_message(group, now, channel) for channel, group in by_channel.items()]


def invalid_tags_message(problems: list[TagProblem], now: datetime, channel: str | None) -> blocks.SlackMessage:
    by_service: dict[str, list[TagProblem]] = defaultdict(list)
    for problem in problems:
        by_service[problem.resource.key].append(problem)
    count = len(by_service)
    title = f"Tags Steward cannot read: {_counted(problems)}"
    body: list[blocks.Block] = [blocks.header(title)]
    text_lines = [title]
    for key, group in sorted(by_service.items())[:SERVICES_PER_MESSAGE]:
        lines = [f"*`{blocks.escape(key)}`*"]
        for problem in group:
            what, fix, command = problem_lines(problem)
            lines += [f"• {blocks.escape(what)}", f"  {blocks.escape(fix)}", f"```{blocks.escape(command)}```"]
            text_lines.append(f"{key}: {what}; {command}")
        body.append(blocks.section("\n".join(lines)))
    if count > SERVICES_PER_MESSAGE:
        body.append(blocks.context(f"… and {count - SERVICES_PER_MESSAGE} more services: `steward plan off-hours`"))
    body.append(
        blocks.context(
            f"Said once a day per service and value; checked at {blocks.when(now)}. "
            "`steward plan off-hours` lists them all."
        )
    )
    return blocks.SlackMessage(text="\n".join(text_lines), blocks=tuple(body), channel=channel)


def _counted(problems: list[TagProblem]) -> str:
    """'2 services', or '2 services, 1 database' when databases are among them."""
    services = len({p.resource.key for p in problems if isinstance(p.resource, ServiceView)})
    databases = len({p.resource.key for p in problems if not isinstance(p.resource, ServiceView)})
    words = [f"{services} service{'s' if services != 1 else ''}"] if services or not databases else []
    if databases:
        words.append(f"{databases} database{'s' if databases != 1 else ''}")
    return ", ".join(words)
