"""Deploy rollback's Slack messages: a deployment's status, what an alarm led to, and Steward's own health alarms."""

from __future__ import annotations

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
    return blocks.SlackMessage(
        text=f"Deployment {status}: {cluster}/{name} → {target}",
        channel=channel,
        blocks=(
            blocks.section(
                f"*Deployment {blocks.escape(status)}*: `{blocks.escape(cluster)}/{blocks.escape(name)}`"
                f" → `{blocks.escape(target)}`"
            ),
            blocks.context(blocks.escape(deployment.reason or deployment.deployment_id)),
        ),
    )


def rollback(
    applied: Applied[RollbackDecision], *, service: str, alarm: str, channel: str | None
) -> blocks.SlackMessage | None:
    """What the team reads about an alarm that mapped to a service; None when there is nothing worth posting."""
    decision = applied.decision
    if applied.status is Status.DUPLICATE:
        return None
    if decision.move is Move.NONE:
        quiet = decision.reason.startswith(QUIET_REASONS)
        return None if quiet else _rollback(f"No rollback for {service}", decision.reason, service, alarm, channel)
    title = ROLLBACK_TITLES.get(applied.status)
    if title is None:
        return None
    reason = f"rollback failed: {applied.error}" if applied.status is Status.FAILED else decision.reason
    return _rollback(f"{title} {service}", reason, service, alarm, channel)


def _rollback(title: str, reason: str, service: str, alarm: str, channel: str | None) -> blocks.SlackMessage:
    return blocks.SlackMessage(
        text=f"{title}: {reason} (alarm {alarm})",
        channel=channel,
        blocks=(
            blocks.header(title),
            blocks.section(
                blocks.escape(reason),
                fields=[f"*Alarm*\n{blocks.escape(alarm)}", f"*Service*\n{blocks.escape(service)}"],
            ),
        ),
    )


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
