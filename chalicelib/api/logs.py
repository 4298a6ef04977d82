"""Function logs: search (JSON, ours: spec §5) and export as `lpf logs` reads it (V1 `/logs/export`, V2
`/functions/{uuid}/logs/export`): CSV with one header line (`lpf logs --removeHeader` drops the first line), or JSON
lines with `?format=jsonl`.

An export is written by a generator; when the client accepts gzip (lpf does) it is compressed as it is written, so
the gateway holds the compressed answer only. Chalice responses carry a whole body, so that is as flat as it gets
here; API Gateway compresses on AWS, where the body goes out as text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api._wire import authenticate, json_response, query_list, query_value, route
from chalicelib.config import ENV_LAMBDA_NAME
from chalicelib.domain.errors import BadInput
from chalicelib.services.container import services
from chalicelib.services.logs import LogEntry, LogFilter, parse_levels

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}"
CSV_HEADER = ("timestamp", "level", "message", "extras", "requestId", "functionUuid")
_CHUNK = 64 * 1024


def _ms(request: Request, key: str, default: int | None = None) -> int:
    raw = query_value(request, key)
    if not raw:
        if default is None:
            raise BadInput(detail=f"'{key}' (ms since the epoch) is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadInput(detail=f"'{key}' must be ms since the epoch") from None


def _filter(request: Request, uuids: tuple[str, ...]) -> LogFilter:
    now_ms = int(services().clock.now() * 1000)
    return LogFilter(start_ms=_ms(request, "startTimestamp"), end_ms=_ms(request, "endTimestamp", now_ms),
                     function_uuids=uuids, levels=parse_levels(query_list(request, "filterLevels")),
                     request_id=query_value(request, "requestId")[:128], text=query_value(request, "text")[:200])


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def csv_lines(entries: Iterable[LogEntry]) -> Iterator[str]:
    """The header, then one CSV row per entry (RFC 4180 quoting; rows end in \\n, as lpf splits on it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for entry in entries:
        writer.writerow((_iso(entry.timestamp), entry.level, _text(entry.message),
                         json.dumps(entry.extras, ensure_ascii=False, default=str), entry.request_id,
                         entry.function_uuid))
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(entries: Iterable[LogEntry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry.to_dict() | {"time": _iso(entry.timestamp)}, ensure_ascii=False, default=str) + "\n"


def body_of(chunks: Iterable[str], gzip: bool) -> str | bytes:
    """Text as it is, or gzip-compressed as it is written (bytes: the local HTTP host sends them as they are)."""
    if not gzip:
        return "".join(chunks)
    packer, parts = zlib.compressobj(6, zlib.DEFLATED, 31), []  # wbits 31: a gzip stream
    for chunk in chunks:
        parts.append(packer.compress(chunk.encode()))
    parts.append(packer.flush())
    return b"".join(parts)


def _export(request: Request, uuid: str) -> Response:
    who = authenticate(request, (request.uri_params or {})["account_id"])
    services().logs.check_function(who, uuid)
    flt = _filter(request, (uuid,))
    entries = services().logs.export(who, flt)
    jsonl = query_value(request, "format").lower() in ("jsonl", "json")
    chunks = jsonl_lines(entries) if jsonl else csv_lines(entries)
    gzip = "gzip" in request.headers.get("accept-encoding", "").lower() and not os.environ.get(ENV_LAMBDA_NAME)
    ctype = "application/x-ndjson; charset=utf-8" if jsonl else "text/csv; charset=utf-8"
    headers: dict[str, str | list[str]] = {"Content-Type": ctype,
               "Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(body=body_of(chunks, gzip), status_code=200, headers=headers)


@route(bp, BASE + "/logs/export", ["GET"], tag="logs",
       summary="Export a function's logs as CSV with a header line (?format=jsonl: JSON lines); V1, lpf logs",
       responses={"200": "text/csv: timestamp,level,message,extras,requestId,functionUuid"})
def export_logs_v1(account_id: str) -> Response:
    request = bp.current_request
    uuid = query_value(request, "lambdaUUID")
    if not uuid:
        authenticate(request, account_id)
        raise BadInput(detail="'lambdaUUID' is required")
    return _export(request, uuid)


@route(bp, BASE + "/functions/{uuid}/logs/export", ["GET"], tag="logs",
       summary="Export a function's logs as CSV with a header line (?format=jsonl: JSON lines); V2",
       responses={"200": "text/csv: timestamp,level,message,extras,requestId,functionUuid"})
def export_logs_v2(account_id: str, uuid: str) -> Response:
    return _export(bp.current_request, uuid)


@route(bp, BASE + "/logs", ["GET"], tag="logs",
       summary="Search function logs (ours): ?startTimestamp&endTimestamp (≤ 7 days) [&lambdaUUID...]"
               "[&filterLevels...][&requestId][&text][&limit≤1000][&cursor][&order=asc|desc]",
       responses={"200": "{logs: [{functionUuid, requestId, level, message, extras, timestamp, invocationStatus}],"
                         " cursor}"})
def search_logs(account_id: str) -> Response:
    request = bp.current_request
    who = authenticate(request, account_id)
    flt = _filter(request, tuple(dict.fromkeys(query_list(request, "lambdaUUID"))))
    try:
        limit = int(query_value(request, "limit", "100"))
    except ValueError:
        raise BadInput(detail="'limit' must be a number") from None
    order = query_value(request, "order", "desc").lower()
    if order not in ("asc", "desc"):
        raise BadInput(detail="'order' is asc or desc")
    entries, cursor = services().logs.search(who, flt, limit=limit, cursor=query_value(request, "cursor"),
                                             newest_first=order == "desc")
    return json_response({"logs": [e.to_dict() for e in entries], "cursor": cursor})
