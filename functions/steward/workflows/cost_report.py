"""Daily cost digest (not built yet: the schedule is accepted and logged)."""

from datetime import datetime
from typing import Any

from steward.observability import logger
from steward.runtime import Runtime
from steward.settings import CostReportSettings


def run_digest(rt: Runtime[CostReportSettings], now: datetime) -> dict[str, Any]:
    logger.info("cost digest is not implemented yet", extra={"now": now.isoformat()})
    return {"outcome": "accepted", "reason": "cost digest is not implemented yet"}
