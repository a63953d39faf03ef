"""Deploy rollback through the real handler. State, alarms' tags and task definitions are moto; moto does not keep a
service's `deployments` list on update_service and lacks ListServiceDeployments / StopServiceDeployment, so ECS goes
through devtools.ecs_overlay.EcsOverlay, which keeps deployments beside moto (every other call reaches moto)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import CLUSTER
from devtools.slack_standin import SlackStandIn

from steward.handlers import deploy_rollback
from steward.runtime import shared_aws
from tests.conftest import load_event

T0 = datetime.fromisoformat("2026-11-27T10:00:00+00:00")
SERVICE_ARN = f"arn:aws:ecs:eu-central-1:123456789012:service/{CLUSTER}/api-gateway"
EVENT_NAMES = {
    "IN_PROGRESS": "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "COMPLETED": "SERVICE_DEPLOYMENT_COMPLETED",
    "FAILED": "SERVICE_DEPLOYMENT_FAILED",
}


def deployment_event(deployment_id: str, status: str, at: datetime, reason: str = "") -> dict[str, Any]:
    event = copy.deepcopy(load_event("deploy_rollback/DeploymentChanged--in-progress.json"))
    event["id"] = f"dep-{deployment_id}-{status}-{at.timestamp()}"
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["resources"] = [SERVICE_ARN]
    event["detail"].update(
        eventName=EVENT_NAMES[status],
        deploymentId=deployment_id,
        updatedAt=at.isoformat(),
        reason=reason or f"ECS deployment {deployment_id} {status.lower()}.",
    )
    return event


def alarm_event(at: datetime, previous: str = "OK", name: str = "api-gateway-5xx") -> dict[str, Any]:
    event = copy.deepcopy(load_event("deploy_rollback/AlarmFired--service-metric.json"))
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["resources"] = [f"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:{name}"]
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    event["detail"]["previousState"]["value"] = previous
    return event


class Platform:
    """api-gateway with task definitions :40, :41 (never deployed) and :42, and its deployment history."""

    def __init__(self, overlay: EcsOverlay, context: Any) -> None:
        self.ecs = overlay
        self.context = context
        client = boto3.client("ecs")
        self.revisions = {}
        for number in range(1, 43):
            arn = client.register_task_definition(
                family="api-gateway", containerDefinitions=[{"name": "api", "image": f"api:{number}", "memory": 512}]
            )["taskDefinition"]["taskDefinitionArn"]
            self.revisions[number] = arn
        client.create_service(
            cluster=CLUSTER, serviceName="api-gateway", taskDefinition=self.revisions[40], desiredCount=2
        )

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return deploy_rollback.lambda_handler(event, self.context)

    def deploy(self, number: int, at: datetime, complete_after: timedelta | None = timedelta(minutes=6)) -> str:
        deployment_id = self.ecs.deploy(CLUSTER, "api-gateway", self.revisions[number], at=at)
        self.handle(deployment_event(deployment_id, "IN_PROGRESS", at))
        if complete_after is not None:
            self.ecs.complete(CLUSTER, "api-gateway")
            self.handle(deployment_event(deployment_id, "COMPLETED", at + complete_after))
        return deployment_id

    def current(self) -> str:
        return boto3.client("ecs").describe_services(cluster=CLUSTER, services=["api-gateway"])["services"][0][
            "taskDefinition"
        ]


@pytest.fixture
def platform(aws: None, lambda_context: Any) -> Platform:
    # Tagged on the cluster: api-gateway is in the dev stack's scope through its cluster's steward:environment.
    boto3.client("ecs").create_cluster(clusterName=CLUSTER, tags=[{"key": "steward:environment", "value": "dev"}])
    overlay = EcsOverlay(boto3.client("ecs"))
    shared_aws().use("ecs", overlay)
    return Platform(overlay, lambda_context)


def test_an_alarm_after_a_deploy_rolls_back_to_the_previous_successful_deployment_not_the_previous_revision(
    platform: Platform, slack: SlackStandIn
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))  # :41 was registered, never deployed

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=16)))

    assert result["outcome"] == "rolled back"
    rollback = platform.ecs.updates[-1]
    assert rollback["taskDefinition"].endswith(":40")
    assert "capacityProviderStrategy" not in rollback
    assert platform.current().endswith(":40")
    assert any(m.text.startswith("Rolled back pyairtable-dev/api-gateway") for m in slack.messages)


def test_flapping_and_duplicate_alarms_cause_one_rollback(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    first = T0 + timedelta(hours=2, minutes=10)

    outcomes = [
        platform.handle(alarm_event(first))["outcome"],
        platform.handle(alarm_event(first))["outcome"],  # the same event again
        platform.handle(alarm_event(first + timedelta(minutes=3)))["outcome"],  # ALARM → OK → ALARM
    ]

    assert outcomes[0] == "rolled back"
    assert outcomes[1] == "duplicate"
    assert outcomes[2] == "no rollback"
    assert sum(1 for update in platform.ecs.updates if "taskDefinition" in update) == 1


def test_the_rollback_deployment_followed_by_an_alarm_is_never_rolled_back(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=10)))
    # The rollback deployment Steward started shows up in the history like any other.
    rollback_id = platform.ecs.deployments[(CLUSTER, "api-gateway")][-1]["id"]
    platform.handle(deployment_event(rollback_id, "IN_PROGRESS", T0 + timedelta(hours=2, minutes=11)))
    platform.ecs.complete(CLUSTER, "api-gateway")
    platform.handle(deployment_event(rollback_id, "COMPLETED", T0 + timedelta(hours=2, minutes=15)))

    later = platform.handle(alarm_event(T0 + timedelta(hours=3, minutes=5)))

    assert later["outcome"] == "no rollback"
    assert "never rolling back a rollback" in later["reason"]


@pytest.mark.parametrize(("minutes", "outcome"), [(59, "rolled back"), (61, "no rollback")])
def test_only_alarms_inside_the_window_after_the_deployment_count(
    platform: Platform, minutes: int, outcome: str
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2), complete_after=timedelta(minutes=5))

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=5 + minutes)))

    assert result["outcome"] == outcome


def test_an_unmapped_alarm_does_nothing(platform: Platform) -> None:
    event = alarm_event(T0)
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {"LoadBalancer": "app/x"}

    result = platform.handle(event)

    assert result["outcome"] == "ignored"
    assert "maps to no service" in result["reason"]


@pytest.mark.parametrize("sample", ["AlarmFired--composite-tagged.json", "AlarmFired--metric-math-tagged.json"])
def test_an_alarm_without_service_dimensions_maps_through_its_steward_service_tag(
    platform: Platform, sample: str
) -> None:
    # Composite and metric-math alarms carry no ClusterName/ServiceName; moto has no composite alarms, so a tagged
    # load balancer alarm stands in: the event (the composite or metric-math sample) names no service either way.
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="api-gateway-health",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/pyairtable/1"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "steward:service", "Value": f"{CLUSTER}/api-gateway"}],
    )
    event = load_event(f"deploy_rollback/{sample}")
    arn = cloudwatch.describe_alarms(AlarmNames=["api-gateway-health"])["MetricAlarms"][0]["AlarmArn"]
    event["resources"] = [arn]
    event["detail"]["state"]["timestamp"] = (T0 + timedelta(hours=2, minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    result = platform.handle(event)

    assert result["outcome"] == "rolled back"


def test_a_first_deployment_has_nothing_to_roll_back_to(platform: Platform, slack: SlackStandIn) -> None:
    platform.deploy(42, T0)

    result = platform.handle(alarm_event(T0 + timedelta(minutes=20)))

    assert result["reason"] == "rollback impossible: no previous successful deployment"
    assert any("No rollback for" in m.text and "no previous successful deployment" in m.text for m in slack.messages)


def test_an_inactive_previous_task_definition_is_never_the_target(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    boto3.client("ecs").deregister_task_definition(taskDefinition=platform.revisions[40])

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=10)))

    assert result["outcome"] == "no rollback"
    assert "api-gateway:40 is INACTIVE" in result["reason"]


def test_an_alarm_during_a_deployment_stops_it_with_a_rollback(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2), complete_after=None)

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=3)))

    assert result["outcome"] == "rolled back"
    assert result["move"] == "stop-deployment"
    [stopped] = platform.ecs.stopped_deployments
    assert stopped["stopType"] == "ROLLBACK"


def test_an_alarm_ecs_itself_rolls_back_on_is_left_to_ecs(platform: Platform) -> None:
    platform.deploy(40, T0)
    boto3.client("ecs").update_service(
        cluster=CLUSTER,
        service="api-gateway",
        deploymentConfiguration={"alarms": {"alarmNames": ["api-gateway-5xx"], "enable": True, "rollback": True}},
    )
    platform.deploy(42, T0 + timedelta(hours=2), complete_after=None)

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=3)))

    assert result["outcome"] == "no rollback"
    assert "ECS's deployment alarms" in result["reason"]
    assert platform.ecs.stopped_deployments == []


def test_a_spot_fallback_deployment_is_not_an_app_deployment_and_its_strategy_is_kept(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    # Spot fallback: same task definition, new strategy, forced new deployment.
    fallback = [{"capacityProvider": "FARGATE", "weight": 2, "base": 2}]
    platform.ecs.set_strategy(CLUSTER, "api-gateway", fallback)
    spot_id = platform.deploy(42, T0 + timedelta(hours=2, minutes=30))

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=40)))

    assert result["outcome"] == "rolled back"
    assert platform.ecs.updates[-1]["taskDefinition"].endswith(":40")
    assert platform.ecs.strategies[(CLUSTER, "api-gateway")] == [
        {"base": 2, "weight": 2, "capacityProvider": "FARGATE"}
    ]
    assert spot_id  # recorded, but it did not restart the window nor become the rollback target


def test_out_of_order_deployment_events_leave_a_correct_history(platform: Platform) -> None:
    platform.deploy(40, T0)
    deployment_id = platform.ecs.deploy(CLUSTER, "api-gateway", platform.revisions[42], at=T0 + timedelta(hours=2))
    platform.ecs.complete(CLUSTER, "api-gateway")
    completed = platform.handle(deployment_event(deployment_id, "COMPLETED", T0 + timedelta(hours=2, minutes=6)))
    late = platform.handle(deployment_event(deployment_id, "IN_PROGRESS", T0 + timedelta(hours=2)))
    again = platform.handle(deployment_event(deployment_id, "COMPLETED", T0 + timedelta(hours=2, minutes=6)))

    assert completed["status"] == "COMPLETED"
    assert late["outcome"] == again["outcome"] == "duplicate"
    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=20)))
    assert result["outcome"] == "rolled back"


def test_deployment_status_goes_to_one_slack_thread_per_deployment(platform: Platform, slack: SlackStandIn) -> None:
    platform.deploy(42, T0)

    started, completed = slack.messages
    assert started.text.startswith("Deployment started: pyairtable-dev/api-gateway → api-gateway:42")
    assert completed.text.startswith("Deployment completed")
    assert completed.body.get("thread_ts") == "1700000001.000100"


def test_opted_out_and_held_off_services_are_not_rolled_back(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    ecs = boto3.client("ecs")
    arn = ecs.describe_services(cluster=CLUSTER, services=["api-gateway"])["services"][0]["serviceArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "steward:rollback", "value": "off"}])

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=10)))

    assert result["reason"] == "opted out (steward:rollback=off)"


def test_dry_run_decides_and_changes_nothing(
    platform: Platform, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    updates = len(platform.ecs.updates)
    monkeypatch.setenv("DRY_RUN", "true")
    from steward.settings import load_settings

    load_settings.cache_clear()
    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=10)))

    assert result["outcome"] == "would roll back"
    assert len(platform.ecs.updates) == updates
    assert slack.messages[-1].text.startswith("[dry run] Would roll back")


def test_stewards_own_health_alarms_reach_slack(
    aws: None, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_ALARM_PREFIX", "steward-dev-health-")
    event = alarm_event(T0, name="steward-dev-health-off-hours-errors")
    event["detail"]["configuration"] = {"description": "Steward's off-hours function errors", "metrics": []}

    result = deploy_rollback.lambda_handler(event, lambda_context)

    assert result["outcome"] == "health alarm reported"
    assert slack.messages[0].text.startswith("Steward needs attention: off-hours-errors")


def throttle(platform: Platform, operation: str, times: int) -> list[str]:
    """The next `times` calls of `operation` fail as throttled after botocore's retries ran out."""
    failures: list[str] = []

    def throttled(**kwargs: Any) -> None:
        if len(failures) < times:
            failures.append(operation)
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )

    platform.ecs.meta.events.register(f"before-call.ecs.{operation}", throttled)
    return failures


@pytest.mark.parametrize("edge", ["AlarmHigh", "AlarmLow"])
def test_a_service_auto_scaling_alarm_never_rolls_back_and_tells_no_one(
    platform: Platform, slack: SlackStandIn, edge: str
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    posted = len(slack.messages)
    event = load_event("deploy_rollback/AlarmFired--target-tracking-high.json")
    name = event["detail"]["alarmName"].replace("AlarmHigh", edge)
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:{name}"]
    event["detail"]["state"]["timestamp"] = (T0 + timedelta(hours=2, minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    result = platform.handle(event)

    assert result["outcome"] == "ignored"
    assert "Auto Scaling" in result["reason"]
    assert not any("taskDefinition" in update for update in platform.ecs.updates)
    assert len(slack.messages) == posted


def test_a_throttled_describe_services_is_raised_and_lambdas_retry_rolls_back_once(platform: Platform) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    event = alarm_event(T0 + timedelta(hours=2, minutes=10))
    throttle(platform, "DescribeServices", times=1)

    with pytest.raises(ClientError, match="ThrottlingException"):
        platform.handle(event)  # the event goes back to Lambda
    retried = platform.handle(event)  # Lambda's retry of the same event
    again = platform.handle(event)

    assert retried["outcome"] == "rolled back"
    assert again["outcome"] == "duplicate"
    assert [update["taskDefinition"].rsplit("/", 1)[-1] for update in platform.ecs.updates] == ["api-gateway:40"]


def test_a_throttled_update_service_leaves_no_claim_nor_cooldown_and_the_retry_rolls_back(
    platform: Platform, slack: SlackStandIn
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2))
    event = alarm_event(T0 + timedelta(hours=2, minutes=10))
    throttle(platform, "UpdateService", times=1)

    with pytest.raises(ClientError, match="ThrottlingException"):
        platform.handle(event)
    retried = platform.handle(event)

    assert retried["outcome"] == "rolled back"
    assert platform.ecs.deployments[(CLUSTER, "api-gateway")][-1]["taskDefinition"].endswith(":40")
    assert sum(m.text.startswith("Rolled back pyairtable-dev/api-gateway") for m in slack.messages) == 1


# Each error's description in the ECS API Reference, StopServiceDeployment, Errors (no captured message text exists).
STOP_REFUSALS = {
    "ConflictException": "The request could not be processed because of conflict in the current state of the resource.",
    "ServiceDeploymentNotFoundException": "The service deploy ARN that you specified in the StopServiceDeployment"
    " doesn't exist. You can use ListServiceDeployments to retrieve the service deployment ARNs.",
    "InvalidParameterException": "The specified parameter isn't valid. Review the available parameters for the API"
    " request.",
}


def refuses_the_stop(platform: Platform, code: str, *, finished: bool = True) -> None:
    """ECS refuses StopServiceDeployment with `code`; with `finished`, the deployment reached steady state between
    ListServiceDeployments and the stop."""

    def stop_service_deployment(**kwargs: Any) -> Any:
        if finished:
            platform.ecs.complete(CLUSTER, "api-gateway")
        raise ClientError(
            {"Error": {"Code": code, "Message": STOP_REFUSALS[code]}, "ResponseMetadata": {"HTTPStatusCode": 400}},
            "StopServiceDeployment",
        )

    platform.ecs.stop_service_deployment = stop_service_deployment  # type: ignore[method-assign]


@pytest.mark.parametrize("code", sorted(STOP_REFUSALS))
def test_a_deployment_that_finishes_before_steward_stops_it_is_a_quiet_no_rollback_not_a_failure(
    platform: Platform, slack: SlackStandIn, code: str
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2), complete_after=None)
    posted = len(slack.messages)
    refuses_the_stop(platform, code)
    event = alarm_event(T0 + timedelta(hours=2, minutes=3))

    result = platform.handle(event)
    again = platform.handle(event)

    assert result == {
        "outcome": "no rollback",
        "service": f"{CLUSTER}/api-gateway",
        "reason": "the deployment finished meanwhile",
    }
    assert again["outcome"] == "duplicate"  # the episode stays answered
    assert len(slack.messages) == posted  # no "rollback failed" for a deployment that simply finished
    assert not any("taskDefinition" in update for update in platform.ecs.updates)


def test_a_stop_refused_while_the_deployment_is_still_in_progress_is_reported_as_a_failed_rollback(
    platform: Platform, slack: SlackStandIn
) -> None:
    platform.deploy(40, T0)
    platform.deploy(42, T0 + timedelta(hours=2), complete_after=None)
    refuses_the_stop(platform, "InvalidParameterException", finished=False)

    result = platform.handle(alarm_event(T0 + timedelta(hours=2, minutes=3)))

    assert result["outcome"] == "failed"
    assert "InvalidParameterException" in result["reason"]
    assert slack.messages[-1].text.startswith("No rollback for pyairtable-dev/api-gateway: rollback failed:")
