"""Unhealthy-deploy rollback (its behaviour is not built yet: the handler accepts and logs valid signals)."""

from typing import Any

from pydantic import BaseModel

from steward.observability import logger
from steward.runtime import Runtime
from steward.settings import DeployRollbackSettings


def handle(rt: Runtime[DeployRollbackSettings], signal: BaseModel) -> dict[str, Any]:
    logger.info(
        "deploy rollback is not implemented yet; signal accepted, nothing done", extra={"signal": type(signal).__name__}
    )
    return {"outcome": "accepted", "actions": [], "reason": "deploy rollback is not implemented yet"}
