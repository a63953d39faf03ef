"""Steward's memory: one DynamoDB table, items addressed by (pk, sk), written with conditions.

pk names what the item is about (`service#CLUSTER/SERVICE`, `budget#NAME`, `alarm#ARN`), sk names the record
(`restore`, `spot-fallback`, `deployment#ID` …). `expires_at` is the table's TTL attribute (epoch seconds).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from msgspec import Struct

from steward.adapters.aws import AwsClients

# The DynamoDB action behind each StateStore method.
READ, WRITE, UPDATE, DELETE, QUERY = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)


class StateUnavailable(RuntimeError):
    """The state table could not be read or written; nothing that depends on it may proceed."""


class Key(Struct, frozen=True):
    pk: str
    sk: str


def service_key(cluster: str, service: str, record: str) -> Key:
    return Key(pk=f"service#{cluster}/{service}", sk=record)


class StateStore:
    def __init__(self, aws: AwsClients, table_name: str) -> None:
        self._aws = aws
        self._table_name = table_name

    def get(self, key: Key, *, consistent: bool = True) -> dict[str, Any] | None:
        try:
            response = self._aws.dynamodb.get_item(
                TableName=self._table_name, Key=_wire(_key_attributes(key)), ConsistentRead=consistent
            )
        except ClientError as error:
            raise StateUnavailable(f"cannot read {key.pk}/{key.sk}: {error}") from error
        item = response.get("Item")
        return _plain(item) if item else None

    def put_new(
        self, key: Key, attributes: Mapping[str, Any], *, expires: datetime | None = None, unless: str | None = None
    ) -> bool:
        """Write the item only if none exists (or, with `unless`, none that has that attribute).

        True when written, False when the condition failed: someone else got there first.
        """
        condition = "attribute_not_exists(pk)" + (f" OR attribute_not_exists({unless})" if unless else "")
        try:
            self._aws.dynamodb.put_item(
                TableName=self._table_name,
                Item=_wire(_item(key, attributes, expires)),
                ConditionExpression=condition,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise StateUnavailable(f"cannot write {key.pk}/{key.sk}: {error}") from error
        return True

    def put(self, key: Key, attributes: Mapping[str, Any], *, expires: datetime | None = None) -> None:
        try:
            self._aws.dynamodb.put_item(TableName=self._table_name, Item=_wire(_item(key, attributes, expires)))
        except ClientError as error:
            raise StateUnavailable(f"cannot write {key.pk}/{key.sk}: {error}") from error

    def update(
        self,
        key: Key,
        values: Mapping[str, Any],
        *,
        if_absent: Mapping[str, Any] | None = None,
        condition: str | None = None,
        condition_values: Mapping[str, Any] | None = None,
        expires: datetime | None = None,
        current_if_refused: bool = False,
    ) -> dict[str, Any] | None:
        """Set `values` (and `if_absent` only where missing) in one atomic write; return the item as it now is.

        None when `condition` (over attribute names and `:name` values) did not hold, or with `current_if_refused`
        the item as it is, unchanged, from the same request.
        """
        names: dict[str, str] = {}
        placeholders: dict[str, Any] = {}
        clauses = []
        all_values = {**values, **({"expires_at": int(expires.timestamp())} if expires else {})}
        for index, (name, value) in enumerate(all_values.items()):
            names[f"#s{index}"], placeholders[f":s{index}"] = name, value
            clauses.append(f"#s{index} = :s{index}")
        for index, (name, value) in enumerate((if_absent or {}).items()):
            names[f"#a{index}"], placeholders[f":a{index}"] = name, value
            clauses.append(f"#a{index} = if_not_exists(#a{index}, :a{index})")
        arguments: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": _wire(_key_attributes(key)),
            "UpdateExpression": "SET " + ", ".join(clauses),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _wire({**placeholders, **(condition_values or {})}),
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            arguments["ConditionExpression"] = condition
        if current_if_refused:
            arguments["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"  # DynamoDB UpdateItem: no second read
        try:
            response = self._aws.dynamodb.update_item(**arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                current = cast(Mapping[str, Any], error.response.get("Item") or {})
                return _plain(current) if current_if_refused else None
            raise StateUnavailable(f"cannot update {key.pk}/{key.sk}: {error}") from error
        return _plain(response.get("Attributes", {}))

    def delete(self, key: Key) -> None:
        try:
            self._aws.dynamodb.delete_item(TableName=self._table_name, Key=_wire(_key_attributes(key)))
        except ClientError as error:
            raise StateUnavailable(f"cannot delete {key.pk}/{key.sk}: {error}") from error

    def items_of(self, pk: str, prefix: str = "", *, from_sk: str = "") -> list[dict[str, Any]]:
        """Every item under `pk` whose record name starts with `prefix`, or sorts at or after `from_sk`."""
        paginator = self._aws.dynamodb.get_paginator("query")
        items: list[dict[str, Any]] = []
        condition, value = ("begins_with(sk, :sk)", prefix) if prefix else ("sk >= :sk", from_sk or " ")
        try:
            pages = paginator.paginate(
                TableName=self._table_name,
                KeyConditionExpression=f"pk = :pk AND {condition}",
                ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": value}},
                ConsistentRead=True,
            )
            for page in pages:
                items.extend(_plain(raw) for raw in page["Items"])
        except ClientError as error:
            raise StateUnavailable(f"cannot read {pk}/{prefix}*: {error}") from error
        return items

    def records(self, sk: str) -> Iterator[dict[str, Any]]:
        """Every item whose record name is `sk` (e.g. all restore records), through the `by-record` index."""
        paginator = self._aws.dynamodb.get_paginator("query")
        try:
            pages = paginator.paginate(
                TableName=self._table_name,
                IndexName="by-record",
                KeyConditionExpression="sk = :sk",
                ExpressionAttributeValues={":sk": {"S": sk}},
            )
            for page in pages:
                for raw in page["Items"]:
                    yield _plain(raw)
        except ClientError as error:
            raise StateUnavailable(f"cannot list {sk} records: {error}") from error


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _key_attributes(key: Key) -> dict[str, Any]:
    return {"pk": key.pk, "sk": key.sk}


def _item(key: Key, attributes: Mapping[str, Any], expires: datetime | None) -> dict[str, Any]:
    item = {**attributes, **_key_attributes(key)}
    if expires is not None:
        item["expires_at"] = int(expires.timestamp())
    return item


def _wire(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def _plain(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in raw.items()}
