"""What an hour of a database instance class costs on demand: a small dated table, each price with its source, so
the digest's database savings are an estimate that says its basis. Pure.

Only prices with a source on file are here; for any other class, engine family or region the digest shows the hours
and says "no price on file", never a guessed figure. AWS's pricing pages render their tables by script, so the
figures come from the sources named below; check them against the AWS Pricing Calculator before relying on them.
"""

from __future__ import annotations

from decimal import Decimal

from msgspec import Struct

AURORA, POSTGRES = "Aurora", "RDS for PostgreSQL"

# Aurora Standard, On-Demand, Single-AZ, us-east-1; "Aurora MySQL and Aurora PostgreSQL compute rates are identical
# for these instance classes" (github.com/aws/agent-toolkit-for-aws, Aurora serverless advisory skill,
# formulas-and-examples.md, "Provisioned compute pricing table", 2026).
AURORA_SOURCE = "aws/agent-toolkit-for-aws Aurora pricing table, 2026"
# RDS for PostgreSQL, On-Demand, Single-AZ, us-east-1 (infratally.com, "AWS RDS pricing explained 2026").
POSTGRES_SOURCE = "infratally.com RDS pricing, 2026"


class HourlyPrice(Struct, frozen=True):
    """One instance-hour's on-demand list price, and where the figure comes from."""

    amount: Decimal
    unit: str
    region: str
    family: str  # AURORA or POSTGRES
    source: str


def _table(region: str, family: str, source: str, rows: dict[str, str]) -> dict[tuple[str, str, str], HourlyPrice]:
    return {
        (region, family, name): HourlyPrice(Decimal(amount), "USD", region, family, source)
        for name, amount in rows.items()
    }


PRICES = {
    **_table(
        "us-east-1",
        AURORA,
        AURORA_SOURCE,
        {
            "db.r6g.large": "0.260",
            "db.r6g.xlarge": "0.519",
            "db.r6g.2xlarge": "1.038",
            "db.r7g.large": "0.276",
            "db.r7g.xlarge": "0.553",
            "db.r7g.2xlarge": "1.106",
            "db.r8g.large": "0.276",
            "db.r8g.xlarge": "0.552",
            "db.t4g.medium": "0.073",
            "db.t4g.large": "0.146",
        },
    ),
    **_table(
        "us-east-1",
        POSTGRES,
        POSTGRES_SOURCE,
        {"db.t4g.micro": "0.016", "db.t4g.small": "0.032", "db.t4g.medium": "0.065"},
    ),
}


def engine_family(engine: str, database: str) -> str:
    """Aurora (either engine: one compute rate), RDS for PostgreSQL, or '' for an engine with no price on file. A
    held cluster is always Aurora (Steward stops no other cluster); an instance needs its engine."""
    if engine.startswith("aurora") or (not engine and database.startswith("cluster/")):
        return AURORA
    return POSTGRES if engine == "postgres" else ""


def hourly_price(region: str, family: str, instance_class: str) -> HourlyPrice | None:
    return PRICES.get((region, family, instance_class))
