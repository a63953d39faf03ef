"""Databases off-hours: RDS DB instances and Aurora DB clusters follow the same steward:schedule as services.
Pure: no AWS, no clock.

A database is decided as a service is (keep-awake, protected, held, the schedule's wish), with three differences:
- it is *on* from its schedule's start minus the schedule's `database_lead_minutes` (a start takes minutes), and it
  stops only once every service of the same schedule in the stack's scope runs no task (they are linked by the
  schedule name);
- what AWS cannot stop is refused with the reason, never tried (read replicas and their sources, Aurora cluster
  members, Multi-AZ DB clusters, Aurora Serverless v1, global database members, Multi-AZ SQL Server, RDS Custom);
- AWS starts a database stopped for seven days; Steward stops it again once it is available, while one started by
  hand during off-hours stays up until the next edge (a start seven days after Steward's stop, or one AWS announced,
  is AWS's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from msgspec import Struct
from msgspec.structs import replace

from steward.domain.services import (
    KEEP_AWAKE_TAG,
    PROTECTED_TAG,
    SCHEDULE_TAG,
    InvalidTag,
    ServiceView,
    invalid_tags,
    read_instant,
    read_switch,
)
from steward.domain.slack import when

if TYPE_CHECKING:  # annotations only: budget stops and the digest read databases without the schedules' models
    from steward.domain.schedules import Desired, Schedule

INSTANCE, CLUSTER = "instance", "cluster"
# RDS stops a database that stayed stopped for seven days (RDS User Guide, "Stopping an Amazon RDS DB instance
# temporarily"; Aurora User Guide, "Stopping and starting an Amazon Aurora DB cluster"). A start this close to it
# is taken for AWS's: the start happens during a maintenance window-like delay, not to the second.
AUTO_START_AFTER = timedelta(days=7)
AUTO_START_SLACK = timedelta(hours=2)
DEFAULT_LEAD = timedelta(minutes=15)

# Engines Steward stops: RDS DB instances of these engine families, and Aurora DB clusters. DescribeDBInstances and
# DescribeDBClusters also return Neptune and DocumentDB; those are left alone.
INSTANCE_ENGINES = ("postgres", "mysql", "mariadb", "oracle-", "sqlserver-", "db2-")
AURORA_ENGINES = ("aurora",)  # aurora-mysql, aurora-postgresql (and the old "aurora")
MULTI_AZ = ("mysql", "postgres")  # Multi-AZ DB clusters: listed, then refused (StopDBCluster is Aurora only)


class DatabaseView(Struct, frozen=True):
    """What RDS says about one DB instance or DB cluster right now, and why Steward may not stop it."""

    kind: str  # INSTANCE or CLUSTER
    identifier: str
    arn: str
    engine: str
    status: str  # DBInstanceStatus / Status: available, stopped, stopping, starting, …
    tags: dict[str, str]
    classes: tuple[str, ...] = ()  # the instance class, or each Aurora member's: what savings are priced by
    refusal: str | None = None  # why AWS cannot stop it, when it cannot (None: it can)
    exists: bool = True

    @property
    def key(self) -> str:
        """'instance/ID' or 'cluster/ID': how records, the log, Slack and `steward plan` name it."""
        return f"{self.kind}/{self.identifier}"

    @property
    def label(self) -> str:
        return f"{'DB instance' if self.kind == INSTANCE else 'Aurora cluster'} {self.identifier}"

    @property
    def handled(self) -> bool:
        """An engine Steward stops; Neptune and DocumentDB, which the same APIs list, are not."""
        engines = (*INSTANCE_ENGINES, *AURORA_ENGINES) if self.kind == INSTANCE else (*AURORA_ENGINES, *MULTI_AZ)
        return self.engine.startswith((*engines, "custom-"))

    @property
    def schedule_name(self) -> str | None:
        return self.tags.get(SCHEDULE_TAG) or None

    @property
    def protected(self) -> bool:
        """Tagged protected, or with a protected tag Steward cannot read."""
        reading = read_switch(self.tags, PROTECTED_TAG)
        return reading is not False and reading is not None

    @property
    def keep_awake(self) -> datetime | InvalidTag | None:
        return read_instant(self.tags, KEEP_AWAKE_TAG)


class InstanceFacts(Struct, frozen=True):
    """The DescribeDBInstances fields that decide whether AWS can stop an instance."""

    engine: str
    cluster: str = ""  # DBClusterIdentifier: a member of an Aurora or Multi-AZ DB cluster
    replica_of: str = ""  # ReadReplicaSourceDBInstanceIdentifier / ReadReplicaSourceDBClusterIdentifier
    replicas: tuple[str, ...] = ()  # ReadReplicaDBInstanceIdentifiers (+ cluster ids)
    multi_az: bool = False


class ClusterFacts(Struct, frozen=True):
    """The DescribeDBClusters fields that decide whether AWS can stop a cluster."""

    engine: str
    engine_mode: str = "provisioned"  # "serverless" is Aurora Serverless v1
    replica_of: str = ""  # ReplicationSourceIdentifier: a cross-Region replica or a global database secondary
    replicas: tuple[str, ...] = ()  # ReadReplicaIdentifiers
    global_cluster: str = ""  # the global database it belongs to, if any


def instance_refusal(facts: InstanceFacts) -> str | None:
    """Why AWS cannot stop this DB instance (RDS API Reference, StopDBInstance; RDS User Guide, "Limitations of
    stopping and starting a DB instance"), or None."""
    if facts.engine.startswith("custom-"):
        return "RDS Custom instance: Steward does not stop RDS Custom"
    if facts.cluster:
        return f"member of DB cluster {facts.cluster}: a cluster is stopped as a whole, never per instance"
    if facts.replica_of:
        return f"read replica of {facts.replica_of}: AWS cannot stop a read replica"
    if facts.replicas:
        return f"source of read replica {', '.join(facts.replicas[:3])}: AWS cannot stop a replica's source"
    if facts.engine.startswith("sqlserver-") and facts.multi_az:
        return "Multi-AZ SQL Server: AWS cannot stop it"
    return None


def cluster_refusal(facts: ClusterFacts) -> str | None:
    """Why AWS cannot stop this DB cluster (RDS API Reference, StopDBCluster; Aurora User Guide, "Limitations for
    stopping and starting Aurora DB clusters"), or None."""
    if not facts.engine.startswith(AURORA_ENGINES):
        return "Multi-AZ DB cluster: StopDBCluster stops Aurora clusters only"
    if facts.engine_mode == "serverless":
        return "Aurora Serverless v1: AWS cannot stop it"
    if facts.global_cluster:
        return f"member of global database {facts.global_cluster}: AWS cannot stop it"
    if facts.replica_of:
        return f"replica of {facts.replica_of}: AWS cannot stop a replica cluster"
    if facts.replicas:
        return f"source of replica {', '.join(facts.replicas[:3])}: AWS cannot stop a replica's source"
    return None


class DatabaseHold(Struct, frozen=True):
    """What Steward remembers while it holds a database stopped. It starts only what it stopped."""

    stopped_at: datetime
    stopped_by: str  # "schedule" (or "budget:<name>")
    edge_id: str
    status: str = "stopping"  # "stopping" until AWS accepted the stop, then "stopped"
    last_stop_at: datetime | None = None  # the latest stop Steward asked for: AWS's seven days count from it
    auto_started_at: datetime | None = None  # when AWS announced its seven-day automatic start
    classes: tuple[str, ...] = ()
    hold_until: datetime | None = None  # a budget stop: the instant its budget period resets
    engine: str = ""  # with `classes`, what the digest prices the hours saved by
    accepted_at: datetime | None = None  # when AWS first accepted a stop: no hour before it (or without it) was saved

    @property
    def stop_requested(self) -> datetime:
        return self.last_stop_at or self.stopped_at

    def started_by_aws(self, now: datetime) -> bool:
        """A start AWS announced, or one seven days after Steward's last stop, is AWS's; any other is a person's."""
        return self.auto_started_at is not None or now - self.stop_requested >= AUTO_START_AFTER - AUTO_START_SLACK


class DatabaseRecord(Struct, frozen=True):
    """The per-database memory: the off edge handled, the hold if Steward holds it stopped, and AWS's refusal at
    that edge (a refused stop is tried again at the next off edge, never every tick)."""

    edge_id: str
    hold: DatabaseHold | None = None
    refused: str = ""


class DbKeptOff(Struct, frozen=True):
    """A database Steward held stopped: held now (until `end` = now) or ended (from the database-savings log)."""

    database: str  # 'instance/ID' or 'cluster/ID'
    engine: str  # "" when the hold did not record it
    classes: tuple[str, ...]  # its instance class, or each Aurora member's
    start: datetime
    end: datetime


class DbAction(StrEnum):
    STOP = "stop"
    START = "start"
    RELEASE = "release"  # forget the hold without a call: the database is already up (started by hand or by AWS)
    MARK = "mark"  # remember the off edge was handled, with nothing to hold
    NONE = "none"
    SKIP = "skip"


class DbDecision(Struct, frozen=True):
    action: DbAction
    reason: str
    hold: DatabaseHold | None = None  # STOP: the hold it takes or keeps; START / RELEASE: the hold it ends
    new_hold: bool = False  # STOP: the hold is not stored yet
    edge_id: str = ""  # MARK: the off edge handled
    back_at: datetime | None = None  # STOP: when its schedule next starts it, lead included
    retry: bool = False  # nothing now, but the next tick must look again (it is in motion)

    @property
    def changes(self) -> bool:
        return self.action not in (DbAction.NONE, DbAction.SKIP)


class DbVerdict(Struct, frozen=True):
    database: DatabaseView
    decision: DbDecision
    invalid: tuple[InvalidTag, ...] = ()


class DbSituation(Struct, frozen=True):
    database: DatabaseView
    desired: Desired | None  # what the schedule asks at `now`
    ahead: Desired | None  # what it asks at `now` + the lead time
    record: DatabaseRecord | None
    running: tuple[str, ...]  # the schedule's services in scope still running tasks ('cluster/service (n tasks)')
    now: datetime
    schedule_problem: str | None
    lead: timedelta

    @property
    def held(self) -> DatabaseHold | None:
        return self.record.hold if self.record else None


DbRule = Callable[[DbSituation], DbDecision | None]


def decide_database(s: DbSituation) -> DbDecision:
    """What to do with one database at `now`: the first rule with an answer decides."""
    for rule in DB_RULES:
        decision = rule(s)
        if decision is not None:
            if decision.action is DbAction.STOP and isinstance(s.database.keep_awake, InvalidTag):
                return DbDecision(DbAction.NONE, f"{s.database.keep_awake.sentence()} until it is fixed")
            return decision
    raise AssertionError("the last rule always decides")


def _not_ours(s: DbSituation) -> DbDecision | None:
    db = s.database
    if not db.exists:
        return DbDecision(DbAction.SKIP, "database is gone" + ("; its hold record is kept" if s.held else ""))
    if not db.handled:
        return DbDecision(DbAction.SKIP, f"engine {db.engine}: Steward stops RDS and Aurora databases only")
    return None


def _kept_awake(s: DbSituation) -> DbDecision | None:
    until = s.database.keep_awake
    if not isinstance(until, datetime) or until <= s.now:
        return None
    reason = f"kept awake until {when(until)}"
    return _start(s, s.held, reason) if s.held else DbDecision(DbAction.NONE, reason)


def _hold_ends(s: DbSituation) -> DbDecision | None:
    held, db = s.held, s.database
    if held is None:
        return None
    if held.hold_until is not None and s.now >= held.hold_until:
        return _start(s, held, f"{held.stopped_by}: the budget period has reset")
    if db.protected:
        return _start(s, held, f"marked protected while held stopped ({PROTECTED_TAG}={db.tags.get(PROTECTED_TAG)})")
    if db.schedule_name is None:
        if held.stopped_by == "schedule":
            return _start(s, held, f"{SCHEDULE_TAG} tag removed while held stopped")
        return DbDecision(DbAction.NONE, f"held stopped by {held.stopped_by} until its period resets")
    return None


def _out_of_schedule(s: DbSituation) -> DbDecision | None:
    db = s.database
    if db.schedule_name is None:
        return DbDecision(DbAction.NONE, f"no {SCHEDULE_TAG} tag")
    if db.protected:
        return DbDecision(DbAction.SKIP, f"{PROTECTED_TAG}={db.tags.get(PROTECTED_TAG, '')}")
    if s.schedule_problem is not None:
        return DbDecision(DbAction.SKIP, s.schedule_problem + ("; it is held stopped until fixed" if s.held else ""))
    if s.desired is None:
        return DbDecision(DbAction.NONE, "schedule has no edge in the past week")
    return None


def _refused(s: DbSituation) -> DbDecision | None:
    """What AWS cannot stop is said every tick, never tried; a hold taken before it became so still ends."""
    if s.database.refusal is not None and s.held is None:
        return DbDecision(DbAction.SKIP, s.database.refusal)
    return None


def _on(s: DbSituation) -> DbDecision | None:
    assert s.desired is not None
    early = s.desired.state != "on" and s.ahead is not None and s.ahead.state == "on"
    if s.desired.state != "on" and not early:
        return None
    minutes = int(s.lead.total_seconds() // 60)
    reason = f"on {minutes} min ahead of its services: {s.ahead.reason}" if early and s.ahead else s.desired.reason
    held = s.held
    if held is None:
        return DbDecision(DbAction.NONE, f"on: {reason}")
    if held.stopped_by != "schedule" and held.stopped_at >= s.desired.since and not early:
        return DbDecision(DbAction.NONE, f"held stopped by {held.stopped_by} until the next scheduled start")
    return _start(s, held, reason)


def _off_and_held(s: DbSituation) -> DbDecision | None:
    held, status = s.held, s.database.status
    assert s.desired is not None
    if held is None:
        return None
    if status != "available":
        if status in ("stopped", "stopping"):
            return DbDecision(DbAction.NONE, f"held stopped since {when(held.stopped_at)}", retry=status == "stopping")
        return DbDecision(DbAction.NONE, f"held stopped, and {status} now: decided once it is available", retry=True)
    if held.status == "stopping":
        return DbDecision(DbAction.STOP, f"finishing an interrupted stop ({s.desired.reason})", hold=held)
    if held.started_by_aws(s.now):
        return DbDecision(
            DbAction.STOP, f"started by AWS after 7 days stopped; stopped again ({s.desired.reason})", hold=held
        )
    return DbDecision(DbAction.NONE, "started by hand while held stopped; left running until the next start")


def _off(s: DbSituation) -> DbDecision:
    db, desired, record = s.database, s.desired, s.record
    assert desired is not None
    if record is not None and record.edge_id == desired.edge_id:
        if record.refused:
            return DbDecision(DbAction.NONE, f"AWS refused the stop at this edge ({record.refused}); tried next edge")
        return DbDecision(DbAction.NONE, "this off period was already handled; not fighting a manual change")
    if s.running:
        listed = ", ".join(s.running[:3]) + (f" and {len(s.running) - 3} more" if len(s.running) > 3 else "")
        reason = f"waiting for the services of its schedule to stop: {listed} still running"
        return DbDecision(DbAction.NONE, reason, retry=True)
    if db.status == "stopped":
        return DbDecision(
            DbAction.MARK, f"already stopped when the off period began ({desired.reason})", edge_id=desired.edge_id
        )
    if db.status != "available":
        return DbDecision(DbAction.SKIP, f"{db.status}: stopped once it is available (next tick)", retry=True)
    hold = DatabaseHold(
        stopped_at=s.now,
        stopped_by="schedule",
        edge_id=desired.edge_id,
        last_stop_at=s.now,
        classes=db.classes,
        engine=db.engine,
    )
    return DbDecision(DbAction.STOP, f"off: {desired.reason}", hold=hold, new_hold=True)


def _start(s: DbSituation, held: DatabaseHold, reason: str) -> DbDecision:
    status = s.database.status
    if status == "stopped":
        return DbDecision(DbAction.START, reason, hold=held)
    if status in ("available", "starting"):
        return DbDecision(DbAction.RELEASE, f"{reason}; already {status}, nothing to start", hold=held)
    return DbDecision(DbAction.NONE, f"{reason}; {status} now: started once it is stopped (next tick)", retry=True)


DB_RULES: tuple[DbRule, ...] = (
    _not_ours,
    _kept_awake,
    _hold_ends,
    _out_of_schedule,
    _refused,
    _on,
    _off_and_held,
    _off,
)


def running_by_schedule(services: Sequence[ServiceView]) -> dict[str, tuple[str, ...]]:
    """The services still running tasks, by the schedule they name: a database of that schedule waits for them."""
    running: dict[str, list[str]] = {}
    for service in services:
        tasks = service.desired_count or service.running_count  # what it asks for; else what still drains
        if service.exists and service.schedule_name and tasks > 0:
            running.setdefault(service.schedule_name, []).append(f"{service.key} ({tasks} tasks)")
    return {name: tuple(sorted(keys)) for name, keys in running.items()}


def decide_databases(
    databases: Sequence[DatabaseView],
    schedules: Mapping[str, Schedule],
    records: Mapping[str, DatabaseRecord],
    services: Sequence[ServiceView],
    now: datetime,
) -> list[DbVerdict]:
    """One decision per tagged database (and per held one, tagged or not); each schedule evaluated once."""
    running = running_by_schedule(services)
    verdicts: list[DbVerdict] = []
    for db in with_gone(databases, records):
        if not (db.schedule_name or db.key in records or invalid_tags(db.tags)):
            continue
        name = db.schedule_name
        schedule = schedules.get(name) if name else None
        lead = schedule.database_lead if schedule else DEFAULT_LEAD
        situation = DbSituation(
            database=db,
            desired=schedule.desired_at(now) if schedule else None,
            ahead=schedule.desired_at(now + lead) if schedule else None,
            record=records.get(db.key),
            running=running.get(name, ()) if name else (),
            now=now,
            schedule_problem=f"unknown schedule {name!r}" if name and schedule is None else None,
            lead=lead,
        )
        decision = decide_database(situation)
        if decision.action is DbAction.STOP and schedule is not None:
            start = schedule.next_edge(now, "on")
            decision = replace(decision, back_at=start.at - lead if start else None)
        verdicts.append(DbVerdict(db, decision, invalid_tags(db.tags, schedules.keys())))
    return verdicts


def with_gone(databases: Sequence[DatabaseView], records: Mapping[str, DatabaseRecord]) -> list[DatabaseView]:
    """The databases, plus a 'gone' view for each held one RDS no longer lists."""
    views = list(databases)
    seen = {db.key for db in views}
    for key in sorted(records.keys() - seen):
        if records[key].hold is None:
            continue
        kind, _, identifier = key.partition("/")
        views.append(DatabaseView(kind, identifier, "", "", "", {}, exists=False))
    return views
