"""DynamoDB backend of the Store protocol: one table, pk = "<kind>#<pk>", sk, a version and the JSON document.

The document is kept as a JSON string attribute (``doc``) so any JSON value round-trips (DynamoDB rejects floats
and empty sets in native attributes). Conditions use ConditionExpression; transactions TransactWriteItems.
boto3 is imported only here, never by the local gateway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.domain.errors import BadInput, Unavailable, VersionConflict
from chalicelib.storage.base import ANY_VERSION, Delete, Put, Query, Record

MAX_TRANSACTION = 100


def create_table(client: Any, table_name: str = "fngate") -> None:
    """The table fngate needs (the same definition infra/ deploys)."""
    client.create_table(TableName=table_name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def _key(kind: str, pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{kind}#{pk}"}, "sk": {"S": sk}}


def _condition(expected: int | None) -> dict[str, Any]:
    if expected is None:
        return {}
    if expected == 0:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": {"N": str(expected)}}}


class DynamoStore:
    def __init__(self, client: Any = None, table_name: str = "fngate", region_name: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb", region_name=region_name)
        self._db, self._table = client, table_name
        from botocore.exceptions import ClientError

        self._client_error = ClientError

    def _code(self, exc: Exception) -> str:
        return getattr(exc, "response", {}).get("Error", {}).get("Code", "")

    def _fail(self, exc: Exception, what: str) -> Exception:
        code = self._code(exc)
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            return VersionConflict(what=what)
        return Unavailable(detail=f"storage error ({code or type(exc).__name__})")

    def get(self, kind: str, pk: str, sk: str) -> Record | None:
        try:
            item = self._db.get_item(TableName=self._table, Key=_key(kind, pk, sk), ConsistentRead=True).get("Item")
        except self._client_error as exc:
            raise self._fail(exc, f"{kind} {pk}/{sk}") from exc
        return self._record(kind, pk, item) if item else None

    @staticmethod
    def _record(kind: str, pk: str, item: dict[str, Any]) -> Record:
        return Record(kind, pk, item["sk"]["S"], int(item["version"]["N"]), json.loads(item["doc"]["S"]))

    def _current_version(self, kind: str, pk: str, sk: str) -> int:
        record = self.get(kind, pk, sk)
        return record.version if record else 0

    def put(self, kind: str, pk: str, sk: str, data: dict[str, Any], *,
            expected_version: int | None = ANY_VERSION) -> Record:
        version = (expected_version if expected_version is not None else self._current_version(kind, pk, sk)) + 1
        item = {**_key(kind, pk, sk), "version": {"N": str(version)},
                "doc": {"S": json.dumps(data, separators=(",", ":"))}}
        try:
            self._db.put_item(TableName=self._table, Item=item, **_condition(expected_version))
        except self._client_error as exc:
            raise self._fail(exc, f"{kind} {pk}/{sk}") from exc
        return Record(kind, pk, sk, version, data)

    def delete(self, kind: str, pk: str, sk: str, *, expected_version: int | None = ANY_VERSION) -> bool:
        if expected_version == 0:
            if self.get(kind, pk, sk) is not None:
                raise VersionConflict(what=f"{kind} {pk}/{sk}")
            return False
        try:
            out = self._db.delete_item(TableName=self._table, Key=_key(kind, pk, sk), ReturnValues="ALL_OLD",
                                       **_condition(expected_version))
        except self._client_error as exc:
            raise self._fail(exc, f"{kind} {pk}/{sk}") from exc
        return bool(out.get("Attributes"))

    def transact(self, ops: Sequence[Put | Delete]) -> None:
        if len(ops) > MAX_TRANSACTION:
            raise BadInput(detail=f"a transaction holds at most {MAX_TRANSACTION} operations")
        items = [self._transact_item(op) for op in ops]
        if not items:
            return
        try:
            self._db.transact_write_items(TransactItems=items)
        except self._client_error as exc:
            raise self._fail(exc, "transaction") from exc

    def _transact_item(self, op: Put | Delete) -> dict[str, Any]:
        if isinstance(op, Put):
            current = op.expected_version if op.expected_version is not None else \
                self._current_version(op.kind, op.pk, op.sk)
            item = {**_key(op.kind, op.pk, op.sk), "version": {"N": str(current + 1)},
                    "doc": {"S": json.dumps(op.data, separators=(",", ":"))}}
            return {"Put": {"TableName": self._table, "Item": item, **_condition(op.expected_version)}}
        condition = _condition(op.expected_version) if op.expected_version != 0 else \
            {"ConditionExpression": "attribute_not_exists(pk)"}
        return {"Delete": {"TableName": self._table, "Key": _key(op.kind, op.pk, op.sk), **condition}}

    def _key_condition(self, q: Query) -> tuple[str, dict[str, Any]]:
        values: dict[str, Any] = {":pk": {"S": f"{q.kind}#{q.pk}"}}
        expr = "pk = :pk"
        low, high = q.start, q.end
        if q.prefix:
            low = max(low or q.prefix, q.prefix)
            high = min(high or q.prefix + "\U0010ffff", q.prefix + "\U0010ffff")
        if low is not None and high is not None:
            expr += " AND sk BETWEEN :lo AND :hi"
            values |= {":lo": {"S": low}, ":hi": {"S": high}}
        elif low is not None:
            expr += " AND sk >= :lo"
            values[":lo"] = {"S": low}
        elif high is not None:
            expr += " AND sk < :hi"
            values[":hi"] = {"S": high}
        return expr, values

    def _pages(self, q: Query, **extra: Any) -> Any:
        expr, values = self._key_condition(q)
        kwargs: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": expr,
                                  "ExpressionAttributeValues": values, "ScanIndexForward": not q.reverse,
                                  "ConsistentRead": True, **extra}
        try:
            while True:
                page = self._db.query(**kwargs)
                yield page
                if "LastEvaluatedKey" not in page:
                    return
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except self._client_error as exc:
            raise self._fail(exc, f"query {q.kind}") from exc

    def _matches(self, q: Query, record: Record) -> bool:
        if q.end is not None and record.sk >= q.end:
            return False  # BETWEEN is inclusive; the protocol's end is exclusive
        if q.prefix and not record.sk.startswith(q.prefix):
            return False
        return all(record.data.get(k) == v for k, v in q.filters.items())

    def query(self, query: Query) -> list[Record]:
        out: list[Record] = []
        for page in self._pages(query):
            for item in page.get("Items", []):
                record = self._record(query.kind, query.pk, item)
                if self._matches(query, record):
                    out.append(record)
                    if query.limit is not None and len(out) >= query.limit:
                        return out
        return out

    def count(self, query: Query) -> int:
        if query.filters or query.end is not None or query.prefix:
            return len(self.query(Query(query.kind, query.pk, query.prefix, query.start, query.end, None,
                                        query.reverse, query.filters)))
        return sum(page.get("Count", 0) for page in self._pages(query, Select="COUNT"))

    def close(self) -> None:
        pass
