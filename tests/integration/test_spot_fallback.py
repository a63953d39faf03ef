"""Spot fallback through the real handler. DynamoDB, Secrets Manager and ECS services are moto; moto keeps no
capacity provider strategy on services, so ECS goes through devtools.ecs_overlay.EcsOverlay, which keeps the strategy
beside moto and adds it to DescribeServices. Every other ECS call reaches moto unchanged."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import CLUSTER, ServiceSpec, create_service
from devtools.slack_standin import SlackStandIn

from steward.handlers import spot_fallback
from steward.runtime import shared_aws
from tests.conftest import STATE_TABLE, load_event

SPOT_BASE = [{"capacityProvider": "FARGATE_SPOT", "base": 2, "weight": 1}, {"capacityProvider": "FARGATE", "weight": 1}]
ON_DEMAND_BASE = [
    {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
    {"capacityProvider": "FARGATE_SPOT", "weight": 3},
]
INTERRUPTED_AT = datetime.fromisoformat("2026-11-27T15:14:03+00:00")


def interruption(
    task: int = 0, version: int = 3, time: str = "2026-11-27T15:14:03Z", service: str = "llm-orchestrator"
) -> dict[str, Any]:
    event = copy.deepcopy(load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json"))
    task_arn = f"arn:aws:ecs:eu-central-1:111122223333:task/pyairtable-dev/{task:032x}"
    event["id"] = f"00000000-0000-4000-8000-{task:06d}{version:06d}"
    event["time"] = time
    event["detail"].update(taskArn=task_arn, version=version, group=f"service:{service}")
    return event


# The cluster is in the dev stack's scope, so its services and its instances are the tests' stack's to act on.
DEV_SCOPE = {"key": "steward:environment", "value": "dev"}


def shift_back_tick(now: datetime) -> dict[str, Any]:
    return {"source": "steward.scheduler", "task": "spot-shift-back", "now": now.isoformat()}


@pytest.fixture
def ecs(aws: None) -> EcsOverlay:
    session = boto3.session.Session()
    session.client("ecs").create_cluster(
        clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"], tags=[DEV_SCOPE]
    )
    overlay = EcsOverlay(session.client("ecs"))
    shared_aws().use("ecs", overlay)
    return overlay


def add_service(
    ecs: EcsOverlay, name: str, strategy: list[dict[str, Any]] | None, desired: int = 2, **tags: str
) -> None:
    session = boto3.session.Session()
    all_tags = {"steward:spot-fallback": "on", **tags}
    create_service(
        session.client("ecs"), session.client("application-autoscaling"), ServiceSpec(name, desired), tags=all_tags
    )
    if strategy is not None:
        ecs.set_strategy(CLUSTER, name, strategy)


def strategy_of(ecs: EcsOverlay, name: str) -> list[dict[str, Any]]:
    return ecs.strategies[(CLUSTER, name)]


def episodes() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=STATE_TABLE)["Items"]
    return [
        item for item in items if item["sk"]["S"] == "spot-fallback" and item.get("status", {}).get("S") == "fallback"
    ]


def test_a_spot_interruption_moves_base_and_weight_to_on_demand_with_a_new_deployment(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn
) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)

    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert result["services"][0]["outcome"] == "fell back"
    assert strategy_of(ecs, "llm-orchestrator") == [{"capacityProvider": "FARGATE", "weight": 2, "base": 2}]
    [update] = ecs.updates
    assert update["forceNewDeployment"] is True
    assert len(episodes()) == 1
    [message] = slack.messages
    assert "llm-orchestrator moved to on-demand" in message.text
    fields = [f["text"] for f in message.blocks[1]["fields"]]
    assert fields == ["*Was*\nFARGATE_SPOT base 2 weight 1 + FARGATE weight 1", "*Now*\nFARGATE base 2 weight 2"]


def test_the_first_signal_needs_four_requests_before_update_service_and_a_duplicate_one(
    ecs: EcsOverlay, lambda_context: Any
) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    aws = shared_aws()

    spot_fallback.lambda_handler(interruption(), lambda_context)
    first = aws.total_calls + sum(count for name, count in ecs.calls.items() if name != "update_service")
    assert ecs.calls["update_service"] == 1
    # Claim, DescribeServices, DescribeClusters, write-ahead; + the Slack token read, cached for the container after.
    assert first <= 4 + 1
    assert ecs.calls["describe_clusters"] == 1
    before = aws.total_calls + sum(ecs.calls.values())

    spot_fallback.lambda_handler(interruption(task=1), lambda_context)

    assert aws.total_calls + sum(ecs.calls.values()) - before == 1
    assert aws.calls["dynamodb.UpdateItem"] >= 3


def test_an_interruption_wave_of_twenty_task_events_causes_one_update(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    wave = [interruption(task=t, version=v) for t in range(10) for v in (2, 3)]

    outcomes = [spot_fallback.lambda_handler(event, lambda_context)["services"][0]["outcome"] for event in wave]

    assert outcomes.count("fell back") == 1
    assert outcomes.count("duplicate") == 19
    assert len(ecs.updates) == 1


def test_duplicate_and_out_of_order_delivery_cause_one_update(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    later, earlier = interruption(version=3, time="2026-11-27T15:14:09Z"), interruption(version=2)

    for event in (later, later, earlier, later):
        spot_fallback.lambda_handler(event, lambda_context)

    assert len(ecs.updates) == 1


def test_a_base_on_on_demand_is_kept_and_the_exact_original_comes_back(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn
) -> None:
    add_service(ecs, "frontend", ON_DEMAND_BASE)

    spot_fallback.lambda_handler(interruption(service="frontend"), lambda_context)
    assert strategy_of(ecs, "frontend") == [{"capacityProvider": "FARGATE", "weight": 4, "base": 1}]
    result = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=46)), lambda_context)

    assert result["services"][0]["outcome"] == "shifted back"
    assert strategy_of(ecs, "frontend") == [{"base": 0, "weight": 0, **item} for item in ON_DEMAND_BASE]
    assert ecs.updates[-1]["forceNewDeployment"] is True
    assert episodes() == []
    assert "back on Spot" in slack.messages[-1].text
    assert "ran on on-demand for 46 min" in slack.messages[-1].blocks[1]["text"]["text"]


def test_spot_flapping_inside_the_stable_period_means_one_fallback_and_no_early_shift_back(
    ecs: EcsOverlay, lambda_context: Any
) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    spot_fallback.lambda_handler(interruption(), lambda_context)
    # Spot comes and goes: another failure 30 minutes later restarts the stable clock.
    spot_fallback.lambda_handler(interruption(task=7, time="2026-11-27T15:44:03Z"), lambda_context)

    for minutes in (5, 30, 46, 60, 74):
        result = spot_fallback.lambda_handler(
            shift_back_tick(INTERRUPTED_AT + timedelta(minutes=minutes)), lambda_context
        )
        assert result["services"][0]["outcome"] == "waiting", minutes
    result = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=76)), lambda_context)

    assert result["services"][0]["outcome"] == "shifted back"
    assert len(ecs.updates) == 2  # one fallback, one shift back
    assert strategy_of(ecs, "llm-orchestrator") == [{"base": 0, "weight": 0, **item} for item in SPOT_BASE]


def test_a_strategy_changed_by_hand_during_the_episode_is_left_as_set(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    spot_fallback.lambda_handler(interruption(), lambda_context)
    ecs.set_strategy(CLUSTER, "llm-orchestrator", [{"capacityProvider": "FARGATE", "weight": 1}])

    result = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(hours=2)), lambda_context)

    assert result["services"][0]["outcome"] == "forgotten"
    assert "changed by someone else" in result["services"][0]["reason"]
    assert strategy_of(ecs, "llm-orchestrator") == [{"base": 0, "capacityProvider": "FARGATE", "weight": 1}]
    assert episodes() == []


@pytest.mark.parametrize(
    ("strategy", "desired", "tags", "reason"),
    [
        ([{"capacityProvider": "FARGATE", "weight": 1}], 2, {}, "no Spot provider"),
        (None, 2, {}, "launch type"),
        (SPOT_BASE, 0, {}, "desired count 0"),
        (SPOT_BASE, 2, {"steward:spot-fallback": "off"}, "not opted in"),
    ],
)
def test_services_steward_must_not_touch_are_left_alone_with_the_reason(
    ecs: EcsOverlay, lambda_context: Any, strategy: Any, desired: int, tags: dict[str, str], reason: str
) -> None:
    add_service(ecs, "llm-orchestrator", strategy, desired=desired, **tags)

    result = spot_fallback.lambda_handler(interruption(), lambda_context)
    again = spot_fallback.lambda_handler(interruption(task=2), lambda_context)

    assert result["services"][0]["outcome"] == "left alone"
    assert reason in result["services"][0]["reason"]
    assert again["services"][0]["outcome"] == "left alone"
    assert ecs.updates == []


@pytest.mark.parametrize("switched_on", ["On", "TRUE", "yes"])
def test_a_service_opted_in_with_any_switch_word_falls_back_within_the_roles_grant(
    ecs: EcsOverlay, lambda_context: Any, switched_on: str
) -> None:
    # The call checker fails the test where UpdateService is made if the role's tag condition would refuse it.
    add_service(ecs, "llm-orchestrator", SPOT_BASE, **{"steward:spot-fallback": switched_on})

    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert result["services"][0]["outcome"] == "fell back"
    assert strategy_of(ecs, "llm-orchestrator") == [{"capacityProvider": "FARGATE", "weight": 2, "base": 2}]


def test_code_deploy_services_are_left_alone(ecs: EcsOverlay, lambda_context: Any) -> None:
    session = boto3.session.Session()
    session.client("ecs").register_task_definition(
        family="blue-green", containerDefinitions=[{"name": "app", "image": "app", "memory": 512}]
    )
    session.client("ecs").create_service(
        cluster=CLUSTER,
        serviceName="blue-green",
        taskDefinition="blue-green",
        desiredCount=2,
        deploymentController={"type": "CODE_DEPLOY"},
        tags=[{"key": "steward:spot-fallback", "value": "on"}],
    )
    ecs.set_strategy(CLUSTER, "blue-green", SPOT_BASE)

    result = spot_fallback.lambda_handler(interruption(service="blue-green"), lambda_context)

    assert "CODE_DEPLOY deployment controller" in result["services"][0]["reason"]
    assert ecs.updates == []


def test_a_placement_failure_on_fargate_spot_falls_back_and_one_without_spot_is_ignored(
    ecs: EcsOverlay, lambda_context: Any
) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    failure = load_event("spot_fallback/PlacementFailed--fargate-spot.json")
    on_demand_failure = copy.deepcopy(failure)
    on_demand_failure["detail"]["capacityProviderArns"] = [
        "arn:aws:ecs:eu-central-1:111122223333:capacity-provider/FARGATE"
    ]

    ignored = spot_fallback.lambda_handler(on_demand_failure, lambda_context)
    results = [spot_fallback.lambda_handler(failure, lambda_context) for _ in range(3)]

    assert ignored["outcome"] == "ignored"
    assert [r["services"][0]["outcome"] for r in results] == ["fell back", "duplicate", "duplicate"]
    assert len(ecs.updates) == 1


def test_an_ec2_spot_warning_for_an_instance_in_no_cluster_is_ignored(ecs: EcsOverlay, lambda_context: Any) -> None:
    result = spot_fallback.lambda_handler(load_event("spot_fallback/Ec2SpotWarning--instance.json"), lambda_context)

    assert result["outcome"] == "ignored"
    assert "not an ECS container instance" in result["reason"]
    assert ecs.updates == []


def test_dry_run_reports_the_fallback_and_changes_nothing(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    add_service(ecs, "llm-orchestrator", SPOT_BASE)

    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert result["services"][0]["outcome"] == "would fall back"
    assert ecs.updates == []
    assert episodes() == []
    assert slack.messages[0].text.startswith("[dry run] Spot fallback")


def test_access_denied_on_the_update_is_reported_and_the_next_signal_may_try_again(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    real_update = ecs.update_service

    def denied(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "UpdateService")

    monkeypatch.setattr(ecs, "update_service", denied)
    failed = spot_fallback.lambda_handler(interruption(), lambda_context)
    monkeypatch.setattr(ecs, "update_service", real_update)
    retried = spot_fallback.lambda_handler(interruption(task=3), lambda_context)

    assert failed["services"][0]["outcome"] == "failed"
    assert "Spot fallback failed" in slack.messages[0].text
    assert retried["services"][0]["outcome"] == "fell back"


def test_a_throttled_update_raises_so_lambda_retries_the_event(
    ecs: EcsOverlay, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    add_service(ecs, "llm-orchestrator", SPOT_BASE)

    def throttled(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateService")

    monkeypatch.setattr(ecs, "update_service", throttled)
    with pytest.raises(ClientError):
        spot_fallback.lambda_handler(interruption(), lambda_context)
    assert episodes() == []


def test_an_ec2_spot_warning_drains_the_instance_and_falls_back_the_services_on_it(
    ecs: EcsOverlay, lambda_context: Any
) -> None:
    # moto ignores ListContainerInstances' filter and keeps no capacity provider on instances: the overlay adds both.
    import json

    ec2 = boto3.client("ec2")
    # An EBS-backed image from a snapshot of its root volume, the form RegisterImage documents (EC2 API Reference).
    volume = ec2.create_volume(AvailabilityZone="eu-central-1a", Size=30)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    image = ec2.register_image(
        Name="ecs-optimized",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
    )["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    client = boto3.client("ecs")
    for provider in ("asg-spot", "asg-on-demand"):
        client.create_capacity_provider(
            name=provider,
            autoScalingGroupProvider={
                "autoScalingGroupArn": f"arn:aws:autoscaling:eu-central-1:123456789012:autoScalingGroup:{provider}"
            },
        )
    client.put_cluster_capacity_providers(
        cluster=CLUSTER,
        capacityProviders=["FARGATE", "FARGATE_SPOT", "asg-spot", "asg-on-demand"],
        defaultCapacityProviderStrategy=[],
    )
    arn = client.register_container_instance(
        cluster=CLUSTER, instanceIdentityDocument=json.dumps({"instanceId": instance_id})
    )["containerInstance"]["containerInstanceArn"]
    ecs.instance_providers[arn] = "asg-spot"
    add_service(
        ecs,
        "platform-services",
        [{"capacityProvider": "asg-spot", "weight": 3}, {"capacityProvider": "asg-on-demand", "base": 1, "weight": 1}],
    )
    client.register_task_definition(
        family="ps-task", containerDefinitions=[{"name": "ps", "image": "ps", "memory": 256}]
    )
    client.start_task(
        cluster=CLUSTER, taskDefinition="ps-task", containerInstances=[arn], group="service:platform-services"
    )
    warning = copy.deepcopy(load_event("spot_fallback/Ec2SpotWarning--instance.json"))
    warning["detail"]["instance-id"] = instance_id

    result = spot_fallback.lambda_handler(warning, lambda_context)

    assert [s["outcome"] for s in result["services"]] == ["fell back"]
    assert strategy_of(ecs, "platform-services") == [{"capacityProvider": "asg-on-demand", "weight": 4, "base": 1}]
    instance = client.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"][0]
    assert instance["status"] == "DRAINING"


def crashed_claim(minutes_before: int) -> None:
    """An episode claimed by an invocation that died before it changed anything."""
    claimed_at = (INTERRUPTED_AT - timedelta(minutes=minutes_before)).isoformat()
    boto3.client("dynamodb").put_item(
        TableName=STATE_TABLE,
        Item={
            "pk": {"S": f"service#{CLUSTER}/llm-orchestrator"},
            "sk": {"S": "spot-fallback"},
            "record": {"S": "spot-fallback"},
            "claim_id": {"S": "crashed-invocation"},
            "claimed_at": {"S": claimed_at},
            "last_signal_at": {"S": claimed_at},
        },
    )


def test_a_claim_left_by_a_crashed_invocation_is_taken_over_by_the_next_signal(
    ecs: EcsOverlay, lambda_context: Any
) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    crashed_claim(minutes_before=5)

    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert result["services"][0]["outcome"] == "fell back"
    assert len(ecs.updates) == 1


def test_a_recent_claim_is_left_to_the_invocation_that_holds_it(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    crashed_claim(minutes_before=1)

    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert result["services"][0]["outcome"] == "duplicate"
    assert ecs.updates == []


def test_two_signals_taking_over_the_same_crashed_claim_fall_back_once(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    crashed_claim(minutes_before=5)
    rival = boto3.client("dynamodb")
    raced: list[bool] = []

    def another_signal_takes_over_first(params: dict[str, Any], **kwargs: Any) -> None:
        if "ConditionExpression" in params and "claim_id = :crashed" in params["ConditionExpression"] and not raced:
            raced.append(True)
            rival.update_item(
                TableName=STATE_TABLE,
                Key={"pk": {"S": f"service#{CLUSTER}/llm-orchestrator"}, "sk": {"S": "spot-fallback"}},
                UpdateExpression="SET claim_id = :rival",
                ExpressionAttributeValues={":rival": {"S": "rival-invocation"}},
            )

    shared_aws().dynamodb.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", another_signal_takes_over_first
    )

    result = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert raced == [True]
    assert result["services"][0]["outcome"] == "duplicate"
    assert result["services"][0]["reason"] == "another invocation took over this episode"
    assert ecs.updates == []


# ------------------------------------------------------------------------------------------ issue #13


def denied_for(ecs: EcsOverlay, service: str, code: str, status: int = 400) -> Any:
    """UpdateService fails for one service only (its tag removed mid-episode, or ECS throttling it)."""
    from botocore.exceptions import ClientError

    real_update = ecs.update_service

    def update(**kwargs: Any) -> Any:
        if kwargs["service"] == service:
            error = {"Error": {"Code": code, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(error, "UpdateService")  # type: ignore[arg-type]
        return real_update(**kwargs)

    return update


def test_a_service_the_role_may_no_longer_update_is_reported_once_and_the_others_still_shift_back(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    add_service(ecs, "frontend", ON_DEMAND_BASE)
    spot_fallback.lambda_handler(interruption(), lambda_context)
    spot_fallback.lambda_handler(interruption(task=1, service="frontend"), lambda_context)
    monkeypatch.setattr(ecs, "update_service", denied_for(ecs, "llm-orchestrator", "AccessDeniedException"))
    before = len(slack.messages)

    result = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=46)), lambda_context)
    again = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=56)), lambda_context)

    outcomes = {r["service"]: r["outcome"] for r in result["services"]}
    assert outcomes == {f"{CLUSTER}/llm-orchestrator": "failed", f"{CLUSTER}/frontend": "shifted back"}
    assert strategy_of(ecs, "frontend") == [{"base": 0, "weight": 0, **item} for item in ON_DEMAND_BASE]
    assert again["services"] == []  # the failed episode is closed: no retry, no second message
    assert episodes() == []
    failures = [m for m in slack.messages[before:] if "shift back failed" in m.text]
    assert len(failures) == 1
    body = " ".join(str(block) for block in failures[0].blocks)
    assert "AccessDeniedException" in body
    assert "FARGATE_SPOT base 2 weight 1 + FARGATE weight 1" in body  # what to set it back to by hand


def test_a_throttled_shift_back_waits_for_the_next_tick_and_the_others_still_shift_back(
    ecs: EcsOverlay, lambda_context: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    add_service(ecs, "frontend", ON_DEMAND_BASE)  # listed first in the table's index
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    spot_fallback.lambda_handler(interruption(service="frontend"), lambda_context)
    spot_fallback.lambda_handler(interruption(task=1), lambda_context)
    real_update = ecs.update_service
    monkeypatch.setattr(ecs, "update_service", denied_for(ecs, "frontend", "ThrottlingException"))

    with pytest.raises(ClientError):  # the tick ends in the dead-letter queue if Lambda's retries fail too
        spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=46)), lambda_context)
    assert strategy_of(ecs, "llm-orchestrator") == [{"base": 0, "weight": 0, **item} for item in SPOT_BASE]
    assert [e["pk"]["S"] for e in episodes()] == [f"service#{CLUSTER}/frontend"]
    monkeypatch.setattr(ecs, "update_service", real_update)
    result = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=56)), lambda_context)

    assert [r["outcome"] for r in result["services"]] == ["shifted back"]
    assert strategy_of(ecs, "frontend") == [{"base": 0, "weight": 0, **item} for item in ON_DEMAND_BASE]
    assert not any("shift back failed" in m.text for m in slack.messages)


def test_merged_weights_stay_within_what_ecs_accepts(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(
        ecs,
        "llm-orchestrator",
        [{"capacityProvider": "FARGATE_SPOT", "weight": 800}, {"capacityProvider": "FARGATE", "weight": 400}],
    )

    spot_fallback.lambda_handler(interruption(), lambda_context)

    [update] = ecs.updates
    assert update["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1000, "base": 0}]


def test_a_cluster_without_fargate_is_reported_once_and_nothing_is_changed(
    aws: None, lambda_context: Any, slack: SlackStandIn
) -> None:
    session = boto3.session.Session()
    session.client("ecs").create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE_SPOT"], tags=[DEV_SCOPE])
    ecs = EcsOverlay(session.client("ecs"))
    shared_aws().use("ecs", ecs)
    add_service(ecs, "llm-orchestrator", [{"capacityProvider": "FARGATE_SPOT", "weight": 1}])

    first = spot_fallback.lambda_handler(interruption(), lambda_context)
    second = spot_fallback.lambda_handler(interruption(task=1, time="2026-11-27T15:16:03Z"), lambda_context)

    assert first["services"][0]["outcome"] == "left alone"
    assert "FARGATE is not a capacity provider of cluster pyairtable-dev" in first["services"][0]["reason"]
    assert second["services"][0]["outcome"] == "left alone"
    assert ecs.updates == []
    [message] = slack.messages
    assert "llm-orchestrator" in message.text
    assert "FARGATE is not a capacity provider of cluster pyairtable-dev" in str(message.blocks)


def test_a_late_spot_signal_does_not_bring_the_shift_back_forward(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    spot_fallback.lambda_handler(
        load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json"), lambda_context
    )
    # Delivered after the 15:14 signal, but it happened at 14:44: Spot has been failing since 15:14 at the latest.
    late = spot_fallback.lambda_handler(load_event("spot_fallback/FargateSpotTaskStopped--late.json"), lambda_context)

    early = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=40)), lambda_context)
    ready = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=46)), lambda_context)

    assert late["services"][0]["outcome"] == "duplicate"
    assert early["services"][0]["outcome"] == "waiting"
    assert ready["services"][0]["outcome"] == "shifted back"
    assert len(ecs.updates) == 2


def test_a_redelivered_signal_does_not_undo_a_newer_one(ecs: EcsOverlay, lambda_context: Any) -> None:
    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    spot_fallback.lambda_handler(
        load_event("spot_fallback/FargateSpotTaskStopped--spot-interruption.json"), lambda_context
    )
    spot_fallback.lambda_handler(interruption(task=5, time="2026-11-27T15:44:03Z"), lambda_context)
    spot_fallback.lambda_handler(load_event("spot_fallback/FargateSpotTaskStopped--redelivered.json"), lambda_context)
    writes = shared_aws().calls["dynamodb.UpdateItem"]
    spot_fallback.lambda_handler(load_event("spot_fallback/FargateSpotTaskStopped--redelivered.json"), lambda_context)

    result = spot_fallback.lambda_handler(shift_back_tick(INTERRUPTED_AT + timedelta(minutes=46)), lambda_context)

    assert result["services"][0]["outcome"] == "waiting"  # 15:44 + 45 min, not 15:14 + 45 min
    assert shared_aws().calls["dynamodb.UpdateItem"] - writes == 1  # a duplicate still costs one write


def test_a_throttled_cluster_read_leaves_no_claim_so_lambdas_retry_falls_back(
    ecs: EcsOverlay, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    real_describe = ecs.describe_clusters

    def throttled(**kwargs: Any) -> Any:
        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        raise ClientError(error, "DescribeClusters")  # type: ignore[arg-type]

    monkeypatch.setattr(ecs, "describe_clusters", throttled, raising=False)
    with pytest.raises(ClientError):
        spot_fallback.lambda_handler(interruption(), lambda_context)
    monkeypatch.setattr(ecs, "describe_clusters", real_describe, raising=False)
    retried = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert retried["services"][0]["outcome"] == "fell back"
    assert len(ecs.updates) == 1


def test_a_write_ahead_the_state_table_refuses_leaves_no_claim_so_lambdas_retry_falls_back(
    ecs: EcsOverlay, lambda_context: Any
) -> None:
    from botocore.exceptions import ClientError

    from steward.adapters.state import StateUnavailable

    add_service(ecs, "llm-orchestrator", SPOT_BASE)
    refused: list[bool] = []

    def refuse_the_first_write_ahead(params: dict[str, Any], **kwargs: Any) -> None:
        if not refused and {"S": "fallback"} in params.get("ExpressionAttributeValues", {}).values():
            refused.append(True)
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
            raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    shared_aws().dynamodb.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", refuse_the_first_write_ahead
    )

    with pytest.raises(StateUnavailable):
        spot_fallback.lambda_handler(interruption(), lambda_context)
    retried = spot_fallback.lambda_handler(interruption(), lambda_context)

    assert refused == [True]
    assert retried["services"][0]["outcome"] == "fell back"
    assert len(ecs.updates) == 1
