"""Deploy rollback's Slack messages: a deployment's status, what an alarm led to, and Steward's own health alarms."""

from __future__ import annotations

from msgspec import Struct

from steward.apply import Applied, Status
from steward.domain import slack as blocks
from steward.domain.rollback import Deployment, Move, RollbackDecision, revision

STATUS_TEXT = {"IN_PROGRESS": "started", "COMPLETED": "completed", "FAILED": "failed"}
# Refusals that are expected and need no one's attention: logged, not posted.
QUIET_REASONS = ("opted out", "held off", "outside the", "no deployment recorded", "fired before")
# What an alarm that asked for a rollback led to, by how the change went; a stop that found the deployment finished
# (UNCHANGED) or a duplicate is not news.
ROLLBACK_TITLES = {
    Status.DONE: "Rolled back",
    Status.DRY_RUN: "[dry run] Would roll back",
    Status.FAILED: "No rollback for",
}


def deployment(cluster: str, name: str, deployment: Deployment, channel: str | None) -> blocks.SlackMessage:
    status = STATUS_TEXT.get(deployment.status, deployment.status.lower())
    if deployment.is_rollback:
        by = "Steward" if deployment.by_steward else "ECS"
        status = f"rolling back (by {by})" if deployment.status == "IN_PROGRESS" else f"rolled back (by {by})"
    target = revision(deployment.task_definition) or deployment.deployment_id
    region = blocks.arn_region(deployment.task_definition)
    return blocks.SlackMessage(
        text=f"Deployment {status}: {cluster}/{name} → {target}",
        channel=channel,
        blocks=(
            blocks.section(
                f"*Deployment {blocks.escape(status)}*: "
                f"{blocks.link(blocks.ecs_service_url(region, cluster, name), f'{cluster}/{name}')}"
                f" → `{blocks.escape(target)}`"
            ),
            blocks.context(blocks.escape(deployment.reason or deployment.deployment_id)),
        ),
    )


def rollback(
    applied: Applied[RollbackDecision], *, service: str, alarm: str, channel: str | None, region: str = ""
) -> blocks.SlackMessage | None:
    """What the team reads about an alarm that mapped to a service; None when there is nothing worth posting.
    `region` is the alarm's (the event's); the console links need it."""
    decision = applied.decision
    if applied.status is Status.DUPLICATE:
        return None
    where = _Where(service, alarm, region or blocks.arn_region(decision.target_task_definition))
    if decision.move is Move.NONE:
        quiet = decision.reason.startswith(QUIET_REASONS)
        return None if quiet else _rollback(f"No rollback for {service}", decision.reason, where, channel)
    title = ROLLBACK_TITLES.get(applied.status)
    if title is None:
        return None
    failed = applied.status is Status.FAILED
    reason = f"rollback failed: {applied.error}" if failed else decision.reason
    return _rollback(f"{title} {service}", reason, where, channel, next_step(decision, service, by_hand=failed))


class _Where(Struct, frozen=True):
    service: str  # CLUSTER/SERVICE
    alarm: str
    region: str


def next_step(decision: RollbackDecision, service: str, *, by_hand: bool) -> str:
    """The failed and the good revision, and the command to run next: after a rollback, redeploy the failed
    revision once it is fixed; when the rollback failed, roll back by hand."""
    cluster, _, name = service.partition("/")
    failed = revision(decision.deployment.task_definition) if decision.deployment else ""
    good = revision(decision.target_task_definition)
    if decision.move is Move.STOP_DEPLOYMENT:
        good = good or "the last completed deployment (ECS rolls back to it)"
    command = f"aws ecs update-service --cluster {cluster} --service {name} --task-definition "
    facts = f"*Failed revision* `{blocks.escape(failed or 'unknown')}` · *Good revision* `{blocks.escape(good)}`"
    if by_hand and decision.target_task_definition:
        return f"{facts}\nTo roll back by hand:\n```{blocks.escape(command + good)}```"
    if not failed:
        return facts
    return (
        f"{facts}\nFind the cause in the failed revision, then redeploy it (or a fixed one); Steward does not roll "
        f"this service back again within its cooldown:\n```{blocks.escape(command + failed)}```"
    )


def _rollback(title: str, reason: str, where: _Where, channel: str | None, step: str = "") -> blocks.SlackMessage:
    cluster, _, name = where.service.partition("/")
    alarm = blocks.link(blocks.alarm_url(where.region, where.alarm), where.alarm)
    service = blocks.link(blocks.ecs_service_url(where.region, cluster, name), where.service)
    body: list[blocks.Block] = [
        blocks.header(title),
        blocks.section(blocks.escape(reason), fields=[f"*Alarm*\n{alarm}", f"*Service*\n{service}"]),
    ]
    if step:
        body.append(blocks.section(step))
    return blocks.SlackMessage(text=f"{title}: {reason} (alarm {where.alarm})", channel=channel, blocks=tuple(body))


def health_alarm(what: str, reason: str, description: str) -> blocks.SlackMessage:
    """Steward's own health alarms (errors, throttles, dead letters) reach the team the same way as everything else."""
    return blocks.SlackMessage(
        text=f"Steward needs attention: {what} ({reason})",
        blocks=(
            blocks.header(f"Steward needs attention: {what}"),
            blocks.section(blocks.escape(description or reason)),
            blocks.context("Runbook: the README's 'When Steward itself alarms' section."),
        ),
    )
