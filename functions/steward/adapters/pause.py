"""The pause switch's SSM parameter, read at most once a minute per container, and the record that announces each
setting of it once."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from steward.adapters.aws import AwsClients
from steward.adapters.state import WRITE, Key, StateStore
from steward.domain.pause import Paused, read_pause

IAM_ACTIONS = frozenset({"ssm:GetParameter", WRITE})
READ_EVERY_SECONDS = 60.0  # a pause takes effect within a minute, at one GetParameter a minute per container at most
NOTICE_LIFETIME = timedelta(days=30)

_read: dict[str, tuple[float, str | None, int]] = {}  # parameter -> (when read, value, version): the container's cache


class PauseSwitch:
    def __init__(self, aws: AwsClients, state: StateStore, parameter: str, *, cached: bool = True) -> None:
        self._aws = aws
        self._state = state
        self._parameter = parameter
        self._cached = cached  # False: read afresh (`steward org` reads many accounts' switches, all named alike)

    def state(self, now: datetime) -> Paused | None:
        """None while Steward runs as usual (no pause parameter, an off word, a pause that has ended)."""
        return read_pause(self._value()[0], now) if self._parameter else None

    def first_notice(self, now: datetime) -> bool:
        """True once per setting of the switch (each put-parameter makes a new version): the first function that
        sees a pause says so in Slack."""
        version = self._value()[1]
        return self._state.put_new(
            Key(pk="pause", sk=f"notice#{version}"), {"version": version}, expires=now + NOTICE_LIFETIME
        )

    def _value(self) -> tuple[str | None, int]:
        if not self._cached:
            return self._fetch()
        cached = _read.get(self._parameter)
        if cached is None or time.monotonic() - cached[0] >= READ_EVERY_SECONDS:
            value, version = self._fetch()
            cached = _read[self._parameter] = (time.monotonic(), value, version)
        return cached[1], cached[2]

    def _fetch(self) -> tuple[str | None, int]:
        try:
            parameter = self._aws.ssm.get_parameter(Name=self._parameter)["Parameter"]
        except ClientError as error:
            # GetParameter answers a missing parameter with ParameterNotFound (SSM API reference, GetParameter errors).
            if error.response["Error"]["Code"] == "ParameterNotFound":
                return None, 0
            raise
        return str(parameter["Value"]), int(parameter.get("Version", 0))


def forget_reads() -> None:
    """Tests and the CLI start from a fresh read."""
    _read.clear()
