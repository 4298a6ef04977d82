"""Wire shapes of functions and deployments in both dialects (management-api.md §3.1, §4.1–4.3)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import limits
from chalicelib.domain.models import Deployment, Function, Manifest
from chalicelib.domain.runtimes import NODE, find_runtime


def v1_runtime(runtime_id: str) -> dict[str, str]:
    rt = find_runtime(runtime_id) or NODE
    return {"uuid": rt.uuid, "name": rt.name, "baseImageName": rt.base_image}


def _v1_deployment(dep: Deployment | None, fn: Function) -> dict[str, Any]:
    if dep is None:
        return {}
    return {"uuid": dep.uuid, "name": fn.name, "lambdaUUID": fn.uuid, "lambdaVersion": dep.manifest_version,
            "imageName": f"{fn.account_id}/{fn.uuid}:{dep.manifest_version}", "deploymentState": dep.state,
            "deploymentError": ({"errorCode": dep.error_code, "errorMsg": dep.error_message,
                                 "errorLogs": dep.error_logs} if dep.error_code else {}),
            "createdAt": dep.created_at, "updatedAt": dep.updated_at, "deployedAt": dep.deployed_at,
            "createdBy": dep.created_by, "updatedBy": dep.created_by}


def v1_lambda(fn: Function) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": fn.uuid, "version": fn.version, "name": fn.name, "description": fn.description,
        "samplePayload": fn.sample_payload, "state": fn.state.value, "runtime": v1_runtime(fn.manifest.runtime),
        "createdAt": fn.created_at, "updatedAt": fn.updated_at, "createdBy": fn.created_by,
        "updatedBy": fn.updated_by, "lastDeployment": _v1_deployment(fn.last_deployment, fn),
        "skills": fn.skills,
        "implementation": {"code": fn.manifest.code, "dependencies": fn.manifest.dependencies,
                           "timeoutSeconds": fn.manifest.timeout_s or int(limits.EXECUTION_TIMEOUT_S),
                           "memoryMB": fn.manifest.memory_mb or limits.MEMORY_MB,
                           "environmentVariables": [{"key": k, "value": v}
                                                    for k, v in fn.manifest.environment.items()]},
    }
    if fn.event_id:
        out["eventId"] = fn.event_id
    return out


def v2_meta(fn: Function) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": fn.uuid, "name": fn.name, "description": fn.description, "state": fn.state.value,
        "skills": fn.skills, "size": fn.size, "isCompV1": fn.is_comp_v1, "createdAt": fn.created_at,
        "createdBy": fn.created_by, "updatedAt": fn.updated_at, "updatedBy": fn.updated_by,
    }
    if fn.event_id:
        out["eventId"] = fn.event_id
    if fn.last_deployment is not None:
        out["lastDeployment"] = v2_deployment(fn.last_deployment, fn)
    return out


def v2_manifest(m: Manifest, fn: Function) -> dict[str, Any]:
    return {"id": m.id, "version": m.version, "runtime": m.runtime, "spec": m.spec, "code": m.code,
            "customDependencies": {d["key"]: d["value"] for d in m.dependencies}, "environment": m.environment,
            "timeoutSeconds": m.timeout_s or int(limits.EXECUTION_TIMEOUT_S),
            "memoryMB": m.memory_mb or limits.MEMORY_MB, "createdAt": m.created_at, "createdBy": m.created_by,
            "updatedAt": m.created_at, "updatedBy": m.created_by}


def v2_function(fn: Function) -> dict[str, Any]:
    return {**v2_meta(fn), "manifest": v2_manifest(fn.manifest, fn)}


def v2_history(fn: Function, versions: list[Manifest]) -> dict[str, Any]:
    return {**v2_meta(fn), "manifest": v2_manifest(fn.manifest, fn),
            "versions": [v2_manifest(m, fn) for m in versions]}


def _memory(dep: Deployment, fn: Function | None) -> int:
    """The deployment's memory: its manifest snapshot's, or the function's when it is that version (summaries)."""
    manifest = dep.manifest or (fn.manifest if fn and fn.manifest.version == dep.manifest_version else None)
    return (manifest.memory_mb if manifest else 0) or limits.MEMORY_MB


def v2_deployment(dep: Deployment, fn: Function | None = None) -> dict[str, Any]:
    """The union of the two deployment shapes the CLI reads (management-api.md §4.3)."""
    out = {"id": dep.id, "uuid": dep.uuid, "functionUuid": dep.function_uuid,
           "manifestUUID": dep.manifest.id if dep.manifest else "", "manifestVersion": dep.manifest_version,
           "deploymentState": dep.state, "createdAt": dep.created_at, "updatedAt": dep.updated_at,
           "deployedAt": dep.deployed_at, "undeployedAt": dep.undeployed_at, "createdBy": dep.created_by,
           "updatedBy": dep.created_by, "functionSize": fn.size if fn else "S", "cpu": "500m",
           "memory": _memory(dep, fn)}
    if dep.restored_from is not None:
        out["restoredFrom"] = dep.restored_from
    if dep.build_key:
        out["dependencyLock"] = dep.build_key  # ours: the installed lock it runs with (shared by equal locks)
    if dep.error_code:
        out["deploymentError"] = {"code": dep.error_code, "message": dep.error_message, "errorLogs": dep.error_logs}
    return out
