"""The schedules document (SPEC §3): one SSM parameter holding every named schedule, read once a tick, and the
record that lets a broken document be announced once per distinct problem."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError
from msgspec import Struct

from steward.adapters.aws import AwsClients
from steward.adapters.state import Key, StateStore
from steward.domain.schedules import Schedule, ScheduleError, parse_schedules

IAM_ACTIONS = frozenset({"ssm:GetParameter"})
NOTICE_LIFETIME = timedelta(days=30)  # a problem left unfixed this long is announced again


class Unusable(Struct, frozen=True):
    """Why the schedules cannot be used this tick: nothing is stopped or started until it is fixed."""

    problem: str


class SchedulesDocument:
    def __init__(self, aws: AwsClients, state: StateStore, parameter: str) -> None:
        self._aws = aws
        self._state = state
        self._parameter = parameter
        self._schedules: dict[str, Schedule] | Unusable | None = None
        self.version = ""  # the parameter's version, as read: a changed document reads as a new version

    def read(self) -> dict[str, Schedule] | Unusable:
        """Every named schedule, or why there are none: the parameter is missing or the document is invalid. Read
        once per tick: a second look (the heads-up) costs no request."""
        if self._schedules is None:
            self._schedules = self._fetch()
        return self._schedules

    def _fetch(self) -> dict[str, Schedule] | Unusable:
        try:
            response = self._aws.ssm.get_parameter(Name=self._parameter)
        except ClientError as error:
            # GetParameter answers a missing parameter with ParameterNotFound (SSM API reference, GetParameter errors).
            if error.response["Error"]["Code"] == "ParameterNotFound":
                return Unusable(f"schedules parameter {self._parameter} does not exist")
            raise
        self.version = f"{response['Parameter'].get('Version', '')}:{response['Parameter'].get('LastModifiedDate', '')}"
        try:
            return parse_schedules(response["Parameter"]["Value"])
        except ScheduleError as error:
            return Unusable(str(error))

    def first_notice(self, unusable: Unusable) -> ProblemNotice:
        return ProblemNotice(self._state, unusable.problem)


class ProblemNotice:
    """A claim on announcing one distinct problem: taken once, until the problem's record expires."""

    def __init__(self, state: StateStore, problem: str) -> None:
        self._state = state
        self._problem = problem

    def take(self) -> bool:
        digest = hashlib.sha256(self._problem.encode()).hexdigest()[:16]
        return self._state.put_new(
            Key(pk="schedules", sk=f"problem#{digest}"),
            {"problem": self._problem[:1000]},
            expires=datetime.now(UTC) + NOTICE_LIFETIME,
        )

    def release(self) -> None:
        """Nothing to undo: announcing cannot fail once the notice is claimed."""
