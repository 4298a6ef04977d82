"""Request bodies of both dialects → FunctionChanges (type checks happen in domain/validation.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import BadInput
from chalicelib.domain.validation import require_type
from chalicelib.services.functions import FunctionChanges

_V2_FIELDS = {"name": "name", "description": "description", "eventId": "event_id", "skills": "skills",
              "samplePayload": "sample_payload", "runtime": "runtime", "code": "code", "environment": "environment",
              "timeoutSeconds": "timeout_s", "memoryMB": "memory_mb"}  # the last two are ours


def _runtime_key(value: Any) -> Any:
    if isinstance(value, dict):  # V1 runtime object {uuid, name, baseImageName}
        return value.get("uuid") or value.get("name")
    return value


def v1_changes(body: dict[str, Any]) -> FunctionChanges:
    fields: dict[str, Any] = {}
    for wire, name in (("name", "name"), ("description", "description"), ("eventId", "event_id"),
                       ("samplePayload", "sample_payload"), ("skills", "skills")):
        if wire in body:
            fields[name] = body[wire]
    if "runtime" in body and body["runtime"] is not None:
        fields["runtime"] = _runtime_key(body["runtime"])
    impl = body.get("implementation")
    if impl is not None:
        require_type(impl, dict, "implementation")
        if "code" in impl:
            fields["code"] = impl["code"]
        if impl.get("environmentVariables") is not None:
            fields["environment"] = impl["environmentVariables"]
        if impl.get("dependencies") is not None:
            fields["dependencies"] = impl["dependencies"]
        for wire, name in (("timeoutSeconds", "timeout_s"), ("memoryMB", "memory_mb")):  # ours
            if impl.get(wire) is not None:
                fields[name] = impl[wire]
    return FunctionChanges(**fields)


def v2_changes(body: dict[str, Any], allowed: set[str] | None = None) -> FunctionChanges:
    fields = {name: body[wire] for wire, name in _V2_FIELDS.items()
              if wire in body and (allowed is None or wire in allowed)}
    if "runtime" in fields:
        fields["runtime"] = _runtime_key(fields["runtime"])
    if "customDependencies" in body and (allowed is None or "customDependencies" in allowed):
        deps = body["customDependencies"]
        require_type(deps, dict, "customDependencies")
        fields["dependencies"] = [{"key": k, "value": v} for k, v in deps.items()]
    return FunctionChanges(**fields)


def optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():  # the Java client types `version` as a string
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput(detail=f"'{key}' must be an integer")
    return value
