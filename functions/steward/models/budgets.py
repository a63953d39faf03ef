"""AWS Budgets notifications, as the SNS records that carry them: each record's `Message` is decoded, inside the
model, into the kind of message it is (an alert, an auto-adjustment, or a body Steward cannot read)."""

import json
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Discriminator, Field, StringConstraints, Tag

from steward.models.base import TOLERANT, NonEmpty

if TYPE_CHECKING:
    from pydantic import TypeAdapter

AMOUNT = re.compile(r"(?P<number>-?[0-9][0-9,]*(?:\.[0-9]+)?)")


def parse_amount(text: str) -> tuple[Decimal, str]:
    """'$1,234.50' → (Decimal('1234.50'), '$'); '€ 90' → (90, '€'); 'USD 12' → (12, 'USD')."""
    match = AMOUNT.search(text)
    if not match:
        raise ValueError(f"no amount in {text!r}")
    try:
        number = Decimal(match.group("number").replace(",", ""))
    except InvalidOperation as error:
        raise ValueError(f"unreadable amount {text!r}") from error
    unit = (text[: match.start()] + text[match.end() :]).replace(">", "").replace("=", "").strip()
    return number, unit


# The period sentence of the two wordings AWS Budgets is publicly seen to send (captures listed in events/SOURCES.md):
# a daily budget reports yesterday's spend, a monthly one the current month. Any other wording is not guessed at.
TIME_UNIT_WORDING = (
    ("DAILY", re.compile(r" per day\. Yesterday, the ACTUAL Cost associated with this budget is ")),
    ("MONTHLY", re.compile(r" for the current month\. The (?:ACTUAL|FORECASTED) Cost associated with this budget is ")),
)
# The two keys that mark a budget auto-adjustment message (the shape cds-snc/sre-bot recognises; see SOURCES.md).
AUTO_ADJUSTMENT_KEYS = frozenset({"previousBudgetLimit", "currentBudgetLimit"})


class BudgetNotification(BaseModel):
    """An AWS Budgets alert, read from the `Key: Value` lines of its plain-text body."""

    model_config = TOLERANT

    kind: Literal["alert"] = "alert"
    account_id: str = ""
    budget_name: NonEmpty
    budget_type: NonEmpty
    budgeted_amount: Decimal
    currency: str
    alert_type: Literal["ACTUAL", "FORECASTED"]
    threshold_amount: Decimal
    reported_amount: Decimal
    time_unit: Literal["DAILY", "MONTHLY"] | None = None  # None: the period sentence is not one Steward knows
    period_wording: str = ""  # the sentence the period was read from, for the log when it could not be

    @property
    def threshold_percent(self) -> Decimal:
        if self.budgeted_amount <= 0:
            return Decimal(0)
        return (self.threshold_amount / self.budgeted_amount * 100).quantize(Decimal("0.1"))

    @classmethod
    def from_text(cls, text: str) -> Self:
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, separator, value = line.partition(":")
            if separator and key.strip() and len(key) < 40:
                fields.setdefault(key.strip().lower(), value.strip())
        required = ("budget name", "budget type", "budgeted amount", "alert type", "alert threshold")
        missing = [name for name in required if name not in fields]
        if missing:
            raise ValueError("not a budget notification: missing " + ", ".join(repr(m.title()) for m in missing))
        alert_type = fields["alert type"].upper()
        amount_line = fields.get(f"{alert_type.lower()} amount")
        if amount_line is None:
            raise ValueError(f"budget notification lacks the '{alert_type} Amount' line")
        budgeted, currency = parse_amount(fields["budgeted amount"])
        threshold, _ = parse_amount(fields["alert threshold"])
        reported, _ = parse_amount(amount_line)
        account = re.search(r"AWS Account (\d{12})", text)
        time_unit = next((unit for unit, wording in TIME_UNIT_WORDING if wording.search(text)), None)
        sentence = re.search(r"You requested that we alert you[^\n]*", text)
        return cls(
            account_id=account.group(1) if account else "",
            budget_name=fields["budget name"],
            budget_type=fields["budget type"],
            budgeted_amount=budgeted,
            currency=currency or "USD",
            alert_type=alert_type,
            threshold_amount=threshold,
            reported_amount=reported,
            time_unit=time_unit,
            period_wording=sentence.group(0)[:500] if sentence else "",
        )


def is_budget_auto_adjustment(text: str) -> bool:
    """Budgets publishes a JSON message when it auto-adjusts a budget's amount: news, not an alert."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False
    return isinstance(document, dict) and document.keys() >= AUTO_ADJUSTMENT_KEYS


class BudgetAutoAdjustment(BaseModel):
    """A budget's amount was auto-adjusted: news, not an alert."""

    model_config = TOLERANT

    kind: Literal["auto-adjustment"] = "auto-adjustment"


class UnreadableBudgetMessage(BaseModel):
    """A body that is neither: possibly a wording AWS introduced since, so it is rejected and counted, never guessed."""

    model_config = TOLERANT

    kind: Literal["unreadable"] = "unreadable"
    reason: str
    excerpt: str  # the body's first 500 characters, for the rejection log


MAX_EXCERPT_CHARS = 500
BUDGET_MESSAGE_KINDS = (BudgetNotification, BudgetAutoAdjustment, UnreadableBudgetMessage)


@cache
def _sns_message_text() -> "TypeAdapter[str]":
    from pydantic import TypeAdapter  # its module loads with the first budget message, not at import

    # SNS Publish API reference, Message: at most 262,144 bytes, so never more characters. Built on first use.
    return TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=262_144)])


def read_budget_message(raw: Any) -> Any:
    """The SNS `Message` as the kind of budget message it is. A body that is no string, or too long, is the event's
    error (reported at `Message`); a string always decodes, an unreadable one into `UnreadableBudgetMessage`."""
    if isinstance(raw, BUDGET_MESSAGE_KINDS):
        return raw
    text = _sns_message_text().validate_python(raw)
    if is_budget_auto_adjustment(text):
        return BudgetAutoAdjustment()
    try:
        return BudgetNotification.from_text(text)
    except ValueError as error:  # a pydantic ValidationError of the fields read is one too
        return UnreadableBudgetMessage(reason=str(error), excerpt=text[:MAX_EXCERPT_CHARS])


def _kind(value: Any) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) else None


BudgetMessage = Annotated[
    Annotated[BudgetNotification, Tag("alert")]
    | Annotated[BudgetAutoAdjustment, Tag("auto-adjustment")]
    | Annotated[UnreadableBudgetMessage, Tag("unreadable")],
    Discriminator(_kind),
    BeforeValidator(read_budget_message),
]


class SnsMessage(BaseModel):
    model_config = TOLERANT

    message_id: NonEmpty = Field(alias="MessageId")
    topic_arn: str = Field(default="", alias="TopicArn")
    subject: str | None = Field(default=None, alias="Subject")
    message: BudgetMessage = Field(alias="Message")
    timestamp: AwareDatetime = Field(alias="Timestamp")


class SnsRecord(BaseModel):
    model_config = TOLERANT

    event_source: Literal["aws:sns"] = Field(alias="EventSource")
    sns: SnsMessage = Field(alias="Sns")


class SnsEvent(BaseModel):
    model_config = TOLERANT

    records: Annotated[list[SnsRecord], Field(min_length=1, max_length=10)] = Field(alias="Records")
