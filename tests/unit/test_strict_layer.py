"""The strict layer (devtools/strict.py): each AWS rule moto does not check refuses a request that breaks it, with
AWS's error code, before moto changes anything; a request that keeps the rule reaches moto."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from devtools.ecs_overlay import EcsOverlay
from devtools.platform import CLUSTER, ServiceSpec, create_service
from devtools.strict import StrictAws, event_day
from devtools.template import create_state_table

from steward.adapters.aws import AwsClients
from tests.conftest import mocked_aws

# These tests provoke refusals on purpose.
pytestmark = pytest.mark.strict_refusals

SPOT = [{"capacityProvider": "FARGATE_SPOT", "base": 1, "weight": 3}, {"capacityProvider": "FARGATE", "weight": 1}]


@pytest.fixture
def moto() -> Iterator[None]:
    with mocked_aws():
        yield


@pytest.fixture
def ecs(moto: None) -> Any:
    """The reference cluster with FARGATE and FARGATE_SPOT associated, and one service of 2 tasks."""
    client = boto3.client("ecs")
    client.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    create_service(client, boto3.client("application-autoscaling"), ServiceSpec("llm-orchestrator", 2))
    return client


def refusal(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def desired(ecs: Any, service: str = "llm-orchestrator") -> int:
    return int(ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]["desiredCount"])


def update(ecs: Any, strategy: list[dict[str, Any]], **extra: Any) -> Any:
    return ecs.update_service(cluster=CLUSTER, service="llm-orchestrator", capacityProviderStrategy=strategy, **extra)


# ------------------------------------------------------------------------------------------ ECS strategies


@pytest.mark.parametrize(
    ("strategy", "words"),
    [
        ([{"capacityProvider": "FARGATE", "weight": 1001}], "weight value 1001"),
        ([{"capacityProvider": "FARGATE", "weight": 1, "base": 100001}], "base value 100001"),
        (
            [{"capacityProvider": "FARGATE_SPOT", "base": 1, "weight": 1}, {"capacityProvider": "FARGATE", "base": 1}],
            "Only one capacity provider",
        ),
        ([{"capacityProvider": "FARGATE_SPOT"}, {"capacityProvider": "FARGATE"}], "weight value greater than zero"),
    ],
)
def test_a_strategy_outside_the_item_rules_is_refused_and_the_service_is_unchanged(
    ecs: Any, strategy: list[dict[str, Any]], words: str
) -> None:
    code, message = refusal(lambda: update(ecs, strategy, forceNewDeployment=True, desiredCount=5))

    assert code == "InvalidParameterException"
    assert words in message
    assert desired(ecs) == 2


def test_a_strategy_at_the_limits_with_one_base_reaches_moto(ecs: Any) -> None:
    strategy = [
        {"capacityProvider": "FARGATE_SPOT", "base": 100000, "weight": 1000},
        {"capacityProvider": "FARGATE", "weight": 0},
    ]

    update(ecs, strategy, forceNewDeployment=True, desiredCount=5)

    assert desired(ecs) == 5


def test_a_provider_not_associated_with_the_cluster_is_refused(moto: None) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE"])
    create_service(ecs, boto3.client("application-autoscaling"), ServiceSpec("llm-orchestrator", 2))

    code, message = refusal(lambda: update(ecs, SPOT, forceNewDeployment=True))

    assert code == "InvalidParameterException"
    assert "not associated with the cluster" in message


def test_a_launch_type_and_a_strategy_together_are_refused(ecs: Any) -> None:
    code, message = refusal(
        lambda: ecs.create_service(
            cluster=CLUSTER,
            serviceName="x",
            taskDefinition="llm-orchestrator",
            launchType="FARGATE",
            capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        )
    )

    assert (code, message.startswith("Specifying both a launch type")) == ("InvalidParameterException", True)


def test_changing_the_strategy_without_forcing_a_deployment_is_refused(ecs: Any) -> None:
    code, message = refusal(lambda: update(ecs, SPOT, desiredCount=5))

    assert code == "InvalidParameterException"
    assert "you must force a new deployment" in message
    assert desired(ecs) == 2


def test_through_the_overlay_the_layer_sees_the_strategy_steward_sent_and_moto_sees_nothing(ecs: Any) -> None:
    aws = AwsClients()
    overlay = EcsOverlay(ecs)
    overlay.set_strategy(CLUSTER, "llm-orchestrator", SPOT)
    aws.use("ecs", overlay)

    code, _ = refusal(lambda: update(aws.ecs, [{"capacityProvider": "FARGATE", "weight": 1}]))
    update(aws.ecs, SPOT)  # the strategy it already has: no change, no deployment needed
    update(aws.ecs, [{"capacityProvider": "FARGATE", "weight": 1}], forceNewDeployment=True)

    assert code == "InvalidParameterException"
    assert [u.get("forceNewDeployment") for u in overlay.updates] == [None, True]
    assert overlay.current_strategy(CLUSTER, "llm-orchestrator") == [
        {"capacityProvider": "FARGATE", "base": 0, "weight": 1}
    ]


def test_checking_a_strategy_reads_the_cluster_without_a_request_of_its_own(ecs: Any) -> None:
    aws = AwsClients()

    update(aws.ecs, [{"capacityProvider": "FARGATE", "weight": 1}], forceNewDeployment=True)

    assert dict(aws.calls) == {"ecs.UpdateService": 1}


def test_a_negative_desired_count_is_refused(ecs: Any) -> None:
    code, _ = refusal(lambda: ecs.update_service(cluster=CLUSTER, service="llm-orchestrator", desiredCount=-1))

    assert code == "InvalidParameterException"
    assert desired(ecs) == 2


# ------------------------------------------------------------------------------------------ ECS batch sizes


@pytest.mark.parametrize(
    ("call", "limit", "words"),
    [
        (lambda ecs, ids: ecs.describe_services(cluster=CLUSTER, services=ids), 10, "service names"),
        (lambda ecs, ids: ecs.describe_tasks(cluster=CLUSTER, tasks=ids), 100, "taskIds"),
        (
            lambda ecs, ids: ecs.describe_container_instances(cluster=CLUSTER, containerInstances=ids),
            100,
            "instanceIds",
        ),
        (
            lambda ecs, ids: ecs.update_container_instances_state(
                cluster=CLUSTER, containerInstances=ids, status="DRAINING"
            ),
            10,
            "instanceIds",
        ),
    ],
)
def test_a_batch_over_the_ecs_limit_is_refused_and_one_at_the_limit_reaches_moto(
    ecs: Any, strict_aws: StrictAws, call: Callable[[Any, list[str]], Any], limit: int, words: str
) -> None:
    ids = [f"id-{n}" for n in range(limit + 1)]

    code, message = refusal(lambda: call(ecs, ids))
    with contextlib.suppress(ClientError, KeyError):  # moto's own answer for unknown ids, whatever it is
        call(ecs, ids[:limit])

    assert (code, message) == ("InvalidParameterException", f"{words} can have at most {limit} items.")
    assert len(strict_aws.refusals) == 1


def test_a_list_page_over_100_is_refused(ecs: Any) -> None:
    code, _ = refusal(lambda: ecs.list_services(cluster=CLUSTER, maxResults=101))

    assert code == "InvalidParameterException"
    assert len(ecs.list_services(cluster=CLUSTER, maxResults=100)["serviceArns"]) == 1


@pytest.mark.raw_moto
def test_a_test_marked_raw_moto_gets_moto_as_it_is(ecs: Any) -> None:
    ecs.describe_services(cluster=CLUSTER, services=[f"s{n}" for n in range(11)])


# ------------------------------------------------------------------------------------------ Cost Explorer


def cost_and_usage(ce: Any, start: str, end: str) -> Any:
    return ce.get_cost_and_usage(
        TimePeriod={"Start": start, "End": end}, Granularity="DAILY", Metrics=["UnblendedCost"]
    )


def test_cost_and_usage_past_the_first_of_next_month_is_refused(moto: None, strict_aws: StrictAws) -> None:
    strict_aws.today = date(2026, 11, 28)
    ce = boto3.client("ce")

    code, message = refusal(lambda: cost_and_usage(ce, "2026-11-01", "2026-12-02"))
    cost_and_usage(ce, "2026-11-01", "2026-12-01")

    assert (code, message) == ("ValidationException", "end date past the beginning of next month")


@pytest.mark.parametrize(("start", "end"), [("2026-11-28", "2026-11-28"), ("2026-11-29", "2026-11-30")])
def test_cost_and_usage_with_an_empty_or_future_period_is_refused(
    moto: None, strict_aws: StrictAws, start: str, end: str
) -> None:
    strict_aws.today = date(2026, 11, 28)

    code, _ = refusal(lambda: cost_and_usage(boto3.client("ce"), start, end))

    assert code == "ValidationException"


def test_a_forecast_starting_before_today_is_refused_and_one_from_today_is_sent(
    moto: None, strict_aws: StrictAws
) -> None:
    strict_aws.today = date(2026, 11, 28)
    ce = boto3.client("ce")
    sent: list[dict[str, Any]] = []

    def answer(params: dict[str, Any], **kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        sent.append(params)
        return AWSResponse("http://127.0.0.1/", 200, {}, None), {"Total": {"Amount": "1", "Unit": "USD"}}

    ce.meta.events.register("before-call.ce.GetCostForecast", answer)

    def forecast(start: str, end: str) -> Any:
        return ce.get_cost_forecast(
            TimePeriod={"Start": start, "End": end}, Metric="UNBLENDED_COST", Granularity="MONTHLY"
        )

    past = refusal(lambda: forecast("2026-11-27", "2026-12-01"))
    empty = refusal(lambda: forecast("2026-12-01", "2026-12-01"))
    forecast("2026-11-28", "2026-12-01")

    assert (past[0], empty) == (
        "ValidationException",
        ("ValidationException", "Requested Start: 2026-12-01 must be before requested End: 2026-12-01"),
    )
    assert len(sent) == 1


def test_today_is_the_day_of_the_event_being_handled() -> None:
    assert event_day({"time": "2026-11-27T23:30:00Z"}) == date(2026, 11, 27)
    assert event_day({"source": "steward.scheduler", "now": "2026-12-01T06:30:00Z"}) == date(2026, 12, 1)
    assert event_day({"Records": [{"Sns": {"Timestamp": "2026-11-01T00:10:00.000Z"}}]}) == date(2026, 11, 1)
    assert event_day("not an event") is None


# ------------------------------------------------------------------------------------------ other services


def test_more_than_50_scalable_target_ids_are_refused(moto: None) -> None:
    autoscaling = boto3.client("application-autoscaling")
    ids = [f"service/{CLUSTER}/s{n}" for n in range(51)]

    code, message = refusal(lambda: autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=ids))
    autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=ids[:50])

    assert code == "ValidationException"
    assert "at 'resourceIds' failed to satisfy constraint: Member must have length less than or equal to 50" in message


def test_a_scalable_target_with_minimum_above_maximum_is_refused(ecs: Any) -> None:
    autoscaling = boto3.client("application-autoscaling")

    code, _ = refusal(
        lambda: autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/llm-orchestrator",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=3,
            MaxCapacity=2,
        )
    )

    assert code == "ValidationException"
    assert autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []


def test_an_unused_expression_attribute_value_is_refused_and_nothing_is_written(moto: None) -> None:
    dynamodb = boto3.client("dynamodb")
    create_state_table(dynamodb, "t")
    item = {"pk": {"S": "a"}, "sk": {"S": "b"}}

    code, message = refusal(
        lambda: dynamodb.put_item(
            TableName="t",
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":unused": {"S": "x"}},
        )
    )
    nothing = dynamodb.scan(TableName="t")["Items"]
    dynamodb.put_item(
        TableName="t",
        Item=item,
        ConditionExpression="attribute_not_exists(pk) OR pk = :a",
        ExpressionAttributeValues={":a": {"S": "a"}},
    )

    assert (code, message) == (
        "ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    )
    assert nothing == []
    assert len(dynamodb.scan(TableName="t")["Items"]) == 1


# ------------------------------------------------------------------------------------------ STS AssumeRole


def trusting(moto: None, account: str, name: str, statement: dict[str, Any]) -> str:
    """A role in `account` with this one trust statement; its ARN."""
    import json
    import os

    os.environ["MOTO_ACCOUNT_ID"] = account
    try:
        boto3.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )
    finally:
        del os.environ["MOTO_ACCOUNT_ID"]
    return f"arn:aws:iam::{account}:role/{name}"


def test_assume_role_follows_the_roles_trust_policy(moto: None) -> None:
    me = "123456789012"
    with_id = trusting(
        moto, "222222222222", "with-id",
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{me}:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "the-id"}}},
    )  # fmt: skip
    without = trusting(
        moto, "222222222222", "no-condition",
        {"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:AssumeRole"},
    )  # fmt: skip
    other = trusting(
        moto, "222222222222", "other-account",
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "sts:AssumeRole"},
    )  # fmt: skip
    client = boto3.client("sts")  # checked by the layer tests/conftest.py installs for every test
    assume = client.assume_role
    assert assume(RoleArn=with_id, RoleSessionName="s-1", ExternalId="the-id")["Credentials"]
    assert assume(RoleArn=without, RoleSessionName="s-2")["Credentials"]  # no condition: no external id needed
    assert assume(RoleArn=without, RoleSessionName="s-3", ExternalId="any")["Credentials"]  # ...nor refused
    for arn, external_id in ((with_id, "wrong"), (other, "the-id"), ("arn:aws:iam::222222222222:role/none", "x-1")):
        with pytest.raises(ClientError) as refused:
            assume(RoleArn=arn, RoleSessionName="s-4", ExternalId=external_id)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert refused.value.response["Error"]["Message"] == (
            f"User: arn:aws:iam::{me}:user/moto is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
