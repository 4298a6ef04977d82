"""DynamoDB backend of the Store protocol: one table, pk = "<kind>#<pk>", sk, a version and the JSON document.

The document is a JSON string attribute (``doc``), so any JSON value round-trips: DynamoDB rejects floats and empty
sets in native attributes. Puts are UpdateItem calls that bump ``version`` server-side (atomic, one round trip),
transactions are TransactWriteItems, and every botocore failure leaves as a domain error. Only the AWS deployment
and the tests import this module; boto3 itself is imported only when no client is handed in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import BadInput, FngateError, Unavailable, VersionConflict
from chalicelib.storage.base import (
    ANY_VERSION,
    MUST_NOT_EXIST,
    Delete,
    Put,
    Query,
    Record,
    check_filters,
    check_omit,
    check_ops,
    dump,
    expiry_of,
    key_range,
    omit_fields,
    prefix_end,
)

_SET = "SET #v = if_not_exists(#v, :zero) + :one, #d = :doc"
TTL_ATTRIBUTE = "expires"  # the table's TTL attribute: a record's EXPIRES_AT, as DynamoDB's TTL wants it
_CONFLICTS = {"ConditionalCheckFailed", "TransactionConflict"}  # cancellation reasons that mean "changed meanwhile"


def create_table(client: Any, table_name: str = "fngate") -> None:
    """Create the table fngate needs (infra/ deploys the same definition) and wait until it is usable."""
    try:
        client.create_table(TableName=table_name, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":  # it exists: just wait for it
            raise
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    try:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True,
                                                                                  "AttributeName": TTL_ATTRIBUTE})
    except ClientError as exc:  # already enabled
        if exc.response.get("Error", {}).get("Code") != "ValidationException":
            raise


def _pk(kind: str, pk: str) -> dict[str, str]:
    if "#" in kind:  # "a#b" + "c" would share a partition with "a" + "b#c"
        raise ValueError(f"a record kind may not contain '#': {kind!r}")
    return {"S": f"{kind}#{pk}"}


def _key(kind: str, pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": _pk(kind, pk), "sk": {"S": sk}}


def _what(kind: str, pk: str, sk: str) -> str:
    return f"{kind} {pk}/{sk}"


def _domain_error(exc: ClientError, what: str, ops: Sequence[Put | Delete] = ()) -> FngateError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "TransactionCanceledException":  # one reason per op, in order; "None" for the ops that were fine
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        failed = [op for op, reason in zip(ops, reasons, strict=False) if reason in _CONFLICTS]
        if failed:
            return VersionConflict(what=_what(failed[0].kind, failed[0].pk, failed[0].sk))
        code = "ValidationException" if "ValidationError" in reasons else code
    if code in ("ConditionalCheckFailedException", "TransactionConflictException"):
        return VersionConflict(what=what)
    if code == "ValidationException":
        return BadInput(detail="The record was rejected by the store")
    return Unavailable(detail="The store is unavailable")


@contextmanager
def _edge(what: str, ops: Sequence[Put | Delete] = ()) -> Iterator[None]:
    """Where botocore errors become domain errors."""
    try:
        yield
    except ClientError as exc:
        raise _domain_error(exc, what, ops) from exc
    except BotoCoreError as exc:
        raise Unavailable(detail="The store is unavailable") from exc


def _matches(data: dict[str, Any], filters: dict[str, Any]) -> bool:
    """The SQLite backend's filter semantics: ==, with a missing field equal to null."""
    return all(data.get(key) == value for key, value in filters.items())


class DynamoStore:
    """The Store on one DynamoDB table (see create_table); takes a boto3 client or makes one."""

    def __init__(self, client: Any = None, table_name: str = "fngate", region_name: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb", region_name=region_name)
            self._owned = True
        else:
            self._owned = False
        self._db, self._table = client, table_name

    def get(self, kind: str, pk: str, sk: str) -> Record | None:
        with _edge(_what(kind, pk, sk)):
            item = self._db.get_item(TableName=self._table, Key=_key(kind, pk, sk), ConsistentRead=True).get("Item")
        return self._record(kind, pk, item) if item else None

    def version(self, kind: str, pk: str, sk: str) -> int | None:
        record = self.get(kind, pk, sk)  # one consistent read either way
        return record.version if record else None

    def put(self, kind: str, pk: str, sk: str, data: dict[str, Any], *,
            expected_version: int | None = ANY_VERSION) -> Record:
        params = self._put_params(kind, pk, sk, data, expected_version)
        if expected_version is None:
            params["ReturnValues"] = "UPDATED_NEW"
        with _edge(_what(kind, pk, sk)):
            out = self._db.update_item(**params)
        version = int(out["Attributes"]["version"]["N"]) if expected_version is None else expected_version + 1
        return Record(kind, pk, sk, version, data)

    def delete(self, kind: str, pk: str, sk: str, *, expected_version: int | None = ANY_VERSION) -> bool:
        params = self._delete_params(kind, pk, sk, expected_version)
        with _edge(_what(kind, pk, sk)):
            out = self._db.delete_item(ReturnValues="ALL_OLD", **params)
        return bool(out.get("Attributes"))

    def transact(self, ops: Sequence[Put | Delete]) -> None:
        check_ops(ops)
        if not ops:
            return
        items = [{"Update": self._put_params(op.kind, op.pk, op.sk, op.data, op.expected_version)}
                 if isinstance(op, Put) else {"Delete": self._delete_params(op.kind, op.pk, op.sk, op.expected_version)}
                 for op in ops]
        with _edge("The transaction", ops):
            self._db.transact_write_items(TransactItems=items)

    def query(self, query: Query) -> list[Record]:
        if query.limit is not None and query.limit < 0:
            raise ValueError("limit must not be negative")
        check_filters(query.filters)
        omit = check_omit(query.omit)
        plan = self._plan(query)
        if plan is None or query.limit == 0:
            return []
        params, skip = plan
        if query.limit is not None and not query.filters:  # with filters, short pages would only add round trips
            params["Limit"] = query.limit + (1 if skip is not None else 0)
        out: list[Record] = []
        for item in self._items(query, params):
            if item["sk"]["S"] == skip:
                continue
            record = self._record(query.kind, query.pk, item)
            if _matches(record.data, query.filters):
                if query.keys_only:
                    record = replace(record, data={})
                elif omit:
                    record = replace(record, data=omit_fields(record.data, omit))
                out.append(record)
                if len(out) == query.limit:
                    break
        return out

    def count(self, query: Query) -> int:
        check_filters(query.filters)
        if query.filters:  # the filter looks inside the JSON document, so the documents have to come back
            return len(self.query(replace(query, limit=None)))
        plan = self._plan(query)
        if plan is None:
            return 0
        params, skip = plan
        if skip is not None:  # BETWEEN includes the exclusive end: fetch only keys and leave it out
            return sum(item["sk"]["S"] != skip for item in self._items(query, params | {"ProjectionExpression": "sk"}))
        return sum(page.get("Count", 0) for page in self._pages(query, params | {"Select": "COUNT"}))

    def purge_expired(self, now: float, limit: int = 100_000) -> int:
        """The table's TTL deletes expired records (create_table enables it)."""
        return 0

    def close(self) -> None:
        if self._owned:
            self._db.close()

    # -- internals ------------------------------------------------------------------------------------------------
    @staticmethod
    def _record(kind: str, pk: str, item: dict[str, Any]) -> Record:
        return Record(kind, pk, item["sk"]["S"], int(item["version"]["N"]), json.loads(item["doc"]["S"]))

    def _put_params(self, kind: str, pk: str, sk: str, data: dict[str, Any], expected: int | None) -> dict[str, Any]:
        values = {":zero": {"N": "0"}, ":one": {"N": "1"}, ":doc": {"S": dump(data)}}
        expires = expiry_of(data)
        if expires is None:
            update = _SET + " REMOVE #e"
        else:
            update, values[":e"] = _SET + ", #e = :e", {"N": str(expires)}
        params: dict[str, Any] = {"TableName": self._table, "Key": _key(kind, pk, sk), "UpdateExpression": update,
                                  "ExpressionAttributeNames": {"#v": "version", "#d": "doc", "#e": TTL_ATTRIBUTE},
                                  "ExpressionAttributeValues": values}
        if expected == MUST_NOT_EXIST:
            params["ConditionExpression"] = "attribute_not_exists(pk)"
        elif expected is not None:
            params["ConditionExpression"] = "#v = :v"
            values[":v"] = {"N": str(expected)}
        return params

    def _delete_params(self, kind: str, pk: str, sk: str, expected: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"TableName": self._table, "Key": _key(kind, pk, sk)}
        if expected == MUST_NOT_EXIST:  # nothing to delete by definition; conflict if something is there
            params["ConditionExpression"] = "attribute_not_exists(pk)"
        elif expected is not None:
            params |= {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
                       "ExpressionAttributeValues": {":v": {"N": str(expected)}}}
        return params

    def _plan(self, q: Query) -> tuple[dict[str, Any], str | None] | None:
        """Query parameters for ``q`` and the one sk to skip (BETWEEN is inclusive); None if the range is empty."""
        bounds = key_range(q)
        if bounds is None:
            return None
        low, high = bounds
        values: dict[str, Any] = {":pk": _pk(q.kind, q.pk)}
        condition, skip = "pk = :pk", None
        if q.prefix and low == q.prefix and high == prefix_end(q.prefix):
            condition, values[":lo"] = "pk = :pk AND begins_with(sk, :lo)", {"S": low}
        elif low is not None and high is not None:
            condition, skip = "pk = :pk AND sk BETWEEN :lo AND :hi", high
            values |= {":lo": {"S": low}, ":hi": {"S": high}}
        elif low is not None:
            condition, values[":lo"] = "pk = :pk AND sk >= :lo", {"S": low}
        elif high is not None:
            condition, values[":hi"] = "pk = :pk AND sk < :hi", {"S": high}
        return {"TableName": self._table, "KeyConditionExpression": condition, "ExpressionAttributeValues": values,
                "ScanIndexForward": not q.reverse, "ConsistentRead": True}, skip

    def _pages(self, q: Query, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            with _edge(f"{q.kind} {q.pk}"):
                page = self._db.query(**params)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            params = params | {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _items(self, q: Query, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for page in self._pages(q, params):
            yield from page.get("Items", [])
