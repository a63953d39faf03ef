"""Spot-interruption fallback (its behaviour is not built yet: the handler accepts and logs valid signals)."""

from typing import Any

from pydantic import BaseModel

from steward.observability import logger
from steward.runtime import Runtime
from steward.settings import SpotFallbackSettings


def handle(rt: Runtime[SpotFallbackSettings], signal: BaseModel) -> dict[str, Any]:
    logger.info(
        "spot fallback is not implemented yet; signal accepted, nothing done", extra={"signal": type(signal).__name__}
    )
    return {"outcome": "accepted", "actions": [], "reason": "spot fallback is not implemented yet"}
