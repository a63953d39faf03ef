"""Budget notifications (alerting and actions are not built yet: notifications are parsed, recognised and logged)."""

from typing import Any

from steward.models import BudgetNotification, SnsEvent, is_budget_json_message
from steward.observability import logger
from steward.runtime import Runtime, reject
from steward.settings import BudgetAlertSettings


def handle(rt: Runtime[BudgetAlertSettings], event: SnsEvent) -> dict[str, Any]:
    results = []
    for record in event.records:
        text = record.sns.message
        if is_budget_json_message(text):
            logger.info("budget message ignored", extra={"reason": "a JSON budget message, not an alert"})
            results.append({"message_id": record.sns.message_id, "outcome": "ignored", "reason": "not a budget alert"})
            continue
        try:
            notification = BudgetNotification.from_text(text)
        except ValueError as error:
            results.append({"message_id": record.sns.message_id, **reject(str(error), text[:500]).result()})
            continue
        logger.info("budget alerting is not implemented yet", extra={"budget": notification.budget_name})
        results.append({"message_id": record.sns.message_id, "outcome": "accepted", "budget": notification.budget_name})
    return {"outcome": "accepted", "records": results}
