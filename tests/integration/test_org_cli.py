"""`steward org status` / `steward org plan`: every member account's Steward, read from the management account
through the read-only role each member stack creates (OrgReadRole), with the external id.

moto answers every AssumeRole; the strict layer refuses one the role's trust policy does not allow (the role must
exist in the member account and trust this account with this external id), as AWS does. Member accounts are set up
as their own stacks would be: the role with the template's trust policy, the state table, the org-view and
schedules parameters, the reference platform; their off-hours tick runs in the member account (MOTO_ACCOUNT_ID).
Every read the CLI makes in a member account is checked against OrgReadRole's statements in template.yaml
(tests/integration/conftest.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from devtools.iam_check import moto_world
from devtools.lambda_context import LambdaContext
from devtools.platform import seed_reference_platform
from devtools.template import create_state_table, template

from steward.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from steward.handlers import off_hours
from tests.conftest import OFFICE_HOURS, SCHEDULES_PARAMETER, STATE_TABLE

MANAGEMENT = "123456789012"  # moto's default account: the one the CLI runs in
TEAM1, TEAM2, TEAM3 = "222222222222", "333333333333", "444444444444"
EXTERNAL_ID = "steward-org-4f9c2a"
PREFIX = "steward-test"  # the member stacks' name (NamePrefix in the organisation package), as in the test world
ROLE = f"{PREFIX}-org-read-eu-central-1"
EVENING = {"source": "steward.scheduler", "task": "off-hours-tick", "now": "2026-11-27T19:00:00Z"}


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def org_role_trust(external_id: str) -> dict[str, Any]:
    """The trust policy template.yaml gives OrgReadRole for this management account and external id."""
    world = moto_world(OrgManagementAccountId=MANAGEMENT, OrgExternalId=external_id)
    return dict(world.resolve(template()["Resources"]["OrgReadRole"]["Properties"]["AssumeRolePolicyDocument"]))


def org_view_value() -> str:
    world = moto_world(OrgManagementAccountId=MANAGEMENT, OrgExternalId=EXTERNAL_ID, Environment="dev", DryRun="false")
    return str(world.resolve(template()["Resources"]["OrgViewParameter"]["Properties"]["Value"]))


def deploy_member(
    monkeypatch: pytest.MonkeyPatch,
    account: str,
    *,
    external_id: str = EXTERNAL_ID,
    stack: bool = True,
    evening_tick: bool = True,
) -> None:
    """A member account with Steward's org read role, and (with `stack`) its stack's table, parameters and the
    reference platform; with `evening_tick`, its 19:00 off-hours tick has run there."""
    from steward.adapters.pause import forget_reads

    monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
    try:
        iam = boto3.client("iam")
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(org_role_trust(external_id)))
        if not stack:
            return
        create_state_table(boto3.client("dynamodb"), STATE_TABLE)
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=SCHEDULES_PARAMETER, Type="String", Value=json.dumps(OFFICE_HOURS))
        ssm.put_parameter(Name=f"/{PREFIX}/org-view", Type="String", Value=org_view_value())
        seed_reference_platform(boto3.session.Session())
        if evening_tick:
            result = off_hours.lambda_handler(EVENING, LambdaContext(function_name="steward-off-hours"))
            assert len(result["stopped"]) == 8, result
    finally:
        monkeypatch.delenv("MOTO_ACCOUNT_ID")
        forget_reads()


@pytest.fixture
def organisation(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An organisation of the management account and three members (ids fixed: moto's CreateAccount picks its
    own, so the listing is what moto's Organizations answers, with these accounts named)."""
    from moto.organizations.models import organizations_backends

    org = boto3.client("organizations")
    org.create_organization(FeatureSet="ALL")
    names = {TEAM1: "team1-dev", TEAM2: "team2-dev", TEAM3: "sandbox"}
    for name in names.values():
        org.create_account(Email=f"{name}@example.com", AccountName=name)
    backend = organizations_backends[MANAGEMENT]["aws"]
    created = [account for account in backend.accounts if account.name in names.values()]
    for account in created:
        account.id = next(id_ for id_, name in names.items() if name == account.name)
    yield names


@pytest.mark.strict_refusals  # the third account's AssumeRole, refused as AWS would
def test_org_status_shows_each_member_account_and_reports_the_one_it_cannot_read(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two member accounts whose evening tick held their platform at zero, and a third whose role trusts
    # another external id
    deploy_member(monkeypatch, TEAM1)
    deploy_member(monkeypatch, TEAM2)
    deploy_member(monkeypatch, TEAM3, external_id="someone-elses-id")

    # When the platform team looks from the management account
    code, output = run("org", "status", "--external-id", EXTERNAL_ID, "--name-prefix", PREFIX)

    # Then both readable accounts show their eight held services, account by account
    assert "organisation view: 2 of 3 account-region(s) read, through role steward-test-org-read-<region>" in output
    summary = [line.split() for line in output.splitlines() if line[:12] in (TEAM1, TEAM2)][:2]
    assert summary == [
        [TEAM1, "team1-dev", "eu-central-1", "dev", "8", "0", "0", "0", "no"],
        [TEAM2, "team2-dev", "eu-central-1", "dev", "8", "0", "0", "0", "no"],
    ]
    team1 = output.split(f"\n{TEAM1} team1-dev, eu-central-1 (dev):\n")[1].split(f"\n{TEAM2} team2-dev")[0]
    assert "  Held at zero: 8" in team1
    assert (
        "    pyairtable-dev/api-gateway          2026-11-27T19:00:00Z  schedule  2 task(s), auto scaling min 2" in team1
    )
    assert output.count("Held at zero: 8") == 2

    # And the third is reported with AWS's refusal and what to check, and the command says not everything was read
    assert "not read: 1" in output
    refused = next(line for line in output.splitlines() if line.startswith(f"  {TEAM3} sandbox"))
    assert "is not authorized to perform: sts:AssumeRole" in refused
    assert "OrgExternalId" in refused
    assert code == EXIT_INVALID


def test_org_status_json_lists_every_account_with_what_it_holds(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one member with its platform held at zero and one that has Steward's role but no stack
    deploy_member(monkeypatch, TEAM1)
    deploy_member(monkeypatch, TEAM2, stack=False)

    # When read as JSON, one account at a time
    code, output = run(
        "org",
        "status",
        "--external-id",
        EXTERNAL_ID,
        "--name-prefix",
        PREFIX,
        "--accounts",
        f"{TEAM1},{TEAM2}",
        "--max-workers",
        "1",
        "--json",
    )

    # Then the member's held services are listed under its account, and the other says there is no stack to read
    document = json.loads(output)
    assert [a["account"] for a in document["accounts"]] == [TEAM1]
    team1 = document["accounts"][0]
    assert team1["name"] == "team1-dev" and team1["environment"] == "dev" and team1["paused"] is None
    assert len(team1["held"]) == 8
    assert {held["service"] for held in team1["held"]} >= {"pyairtable-dev/api-gateway", "pyairtable-dev/frontend"}
    assert document["not_read"] == [
        {
            "account": TEAM2,
            "name": "team2-dev",
            "region": "eu-central-1",
            "error": f"no Steward stack {PREFIX!r} with an org read role in eu-central-1 (no parameter /{PREFIX}/org-view)",
        }
    ]
    assert code == EXIT_INVALID


def test_org_plan_shows_what_each_members_next_tick_would_do(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two members: one whose services are up (no tick yet), one whose evening tick held them at zero
    deploy_member(monkeypatch, TEAM1, evening_tick=False)
    deploy_member(monkeypatch, TEAM2)

    # When the team plans the evening tick across the organisation
    code, output = run(
        "org", "plan", "off-hours", "--at", "2026-11-27T19:00:00Z", "--external-id", EXTERNAL_ID,
        "--name-prefix", PREFIX, "--accounts", f"{TEAM1},{TEAM2}",
    )  # fmt: skip

    # Then the first would stop its eight services and the second has nothing left to do, each with its reasons
    assert code == EXIT_OK, output
    rows = [line.split() for line in output.splitlines() if line[:12] in (TEAM1, TEAM2)][:2]
    assert rows == [
        [TEAM1, "team1-dev", "eu-central-1", "dev", "8", "0", "0", "0"],
        [TEAM2, "team2-dev", "eu-central-1", "dev", "0", "0", "0", "0"],
    ]
    team1 = output.split(f"{TEAM1} team1-dev, eu-central-1")[1].split(f"{TEAM2} team2-dev")[0]
    assert "pyairtable-dev/api-gateway" in team1 and "stop" in team1
    assert "scope:" in team1


def test_org_commands_need_a_well_formed_external_id_before_any_account_is_tried(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch, aws_calls: list[str]
) -> None:
    monkeypatch.delenv("STEWARD_ORG_EXTERNAL_ID", raising=False)

    assert run("org", "status")[0] == EXIT_USAGE
    assert run("org", "status", "--external-id", "x")[0] == EXIT_USAGE
    assert run("org", "status", "--external-id", "has spaces in it")[0] == EXIT_USAGE
    assert "sts.AssumeRole" not in aws_calls


def test_a_member_whose_state_table_is_gone_is_reported_in_its_own_words(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a member whose stack was deleted but for its org-view parameter and role (the table went by hand)
    deploy_member(monkeypatch, TEAM1, evening_tick=False)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", TEAM1)
    boto3.client("dynamodb").delete_table(TableName=STATE_TABLE)
    monkeypatch.delenv("MOTO_ACCOUNT_ID")

    code, output = run("org", "status", "--external-id", EXTERNAL_ID, "--name-prefix", PREFIX, "--accounts", TEAM1)

    assert code == EXIT_INVALID
    assert f"{TEAM1} team1-dev (eu-central-1): its state table '{STATE_TABLE}' is not there in eu-central-1" in output


@pytest.mark.strict_refusals  # AssumeRole with the wrong external id, refused as AWS would
def test_a_wrong_external_id_reads_no_account_and_says_why(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy_member(monkeypatch, TEAM1)

    code, output = run("org", "status", "--external-id", "not-the-id", "--name-prefix", PREFIX, "--accounts", TEAM1)

    assert code == EXIT_INVALID
    assert "0 of 1 account-region(s) read" in output
    assert "Held at zero" not in output
    assert "cannot assume the org read role" in output


@pytest.mark.strict_refusals  # every AssumeRole: none of these accounts has Steward's role
def test_every_account_of_a_large_organisation_is_listed_across_listaccounts_pages(
    organisation: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an organisation of 27 accounts (AWS lists at most 20 a page) where only team1-dev runs Steward
    org = boto3.client("organizations")
    for number in range(23):
        org.create_account(Email=f"extra-{number}@example.com", AccountName=f"extra-{number}")
    deploy_member(monkeypatch, TEAM1)

    # When the view lists the organisation itself
    code, output = run("org", "status", "--external-id", EXTERNAL_ID, "--name-prefix", PREFIX, "--json")

    # Then every member account is there, read or with why not: none lost past the first page
    document = json.loads(output)
    assert [a["account"] for a in document["accounts"]] == [TEAM1]
    assert len(document["not_read"]) == 25
    assert {entry["name"] for entry in document["not_read"]} >= {"extra-0", "extra-22", "team2-dev", "sandbox"}
    assert code == EXIT_INVALID
