"""Typed access to functions, manifests and deployments on top of the generic Store.

Record layout (kind / pk / sk):
  function   / account            / uuid                 the Function (meta + current manifest + live pointer)
  fname      / account            / lower-cased name     {"uuid"} — makes names unique per account
  manifest   / account#uuid       / version (10 digits)  history of manifests (V2 `versions`)
  deployment / account#uuid       / id (10 digits)       deployments with a manifest snapshot (rollback)
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from chalicelib.domain.errors import FunctionNotFound, NameTaken, VersionConflict
from chalicelib.domain.models import Deployment, Function, Manifest
from chalicelib.domain.states import is_invocable
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query, Store, check_omit, omit_fields


def _fn_pk(account_id: str, uuid: str) -> str:
    return f"{account_id}#{uuid}"


# What a listing leaves out: the code, environment and dependencies of the current manifest and of the last
# deployment's snapshot, and the sample payload; everything else (names, states, ids, dates, errors) stays.
_HEAVY = ("code", "environment", "dependencies")
_LISTED_MAX = 20_000  # decoded functions kept for listings, per kind of listing
_ONE_BY_ONE = 16  # up to this many changed functions are read one by one rather than by one query
_META_OMIT = ("sample_payload", *(f"manifest.{k}" for k in _HEAVY), *(f"last_deployment.manifest.{k}" for k in _HEAVY))


def _meta(data: dict) -> dict:
    """A function record without its heavy fields → one Function.from_dict accepts (they come back empty).
    Changes ``data`` in place: it is a document the store has just decoded for this listing."""
    data["manifest"].update(code="", environment={}, dependencies=[])
    last = data.get("last_deployment")
    if last and last.get("manifest"):
        last["manifest"].update(code="", environment={}, dependencies=[])
    return data


def _seq(n: int) -> str:
    return f"{n:010d}"


class FunctionRepository:
    """Also a cache of decoded functions for the invoke path. ``fresh=True`` (the local SQLite store, shared by the
    server processes): each lookup asks the store for the record's version only (an index read, no document) and
    decodes again only when it changed, so a change committed by any process is seen by the next invocation.
    ``fresh=False`` (DynamoDB, where that read is a network round trip): entries live CACHE_TTL_S, so other
    containers' writes are seen within that, and only invocable functions are kept, so a new deployment is seen
    at once everywhere; writes through this repository invalidate it at once either way."""

    CACHE_TTL_S = 1.0

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic, *, fresh: bool = False) -> None:
        self._store, self._clock, self._fresh = store, clock, fresh
        self._cache: dict[tuple[str, str], tuple[float, int, Function]] = {}  # (expires, record version, fn)
        self._generation: dict[tuple[str, str], int] = {}  # bumped by every local write: a read begun before it
        self._full: dict[tuple[str, str], tuple[int, Function]] = {}  # listings: (record version, function)
        self._meta: dict[tuple[str, str], tuple[int, Function]] = {}  # the same, without code (list_meta)

    def get_cached(self, account_id: str, uuid: str) -> Function:
        key = (account_id, uuid)
        hit = self._cache.get(key)
        if self._fresh:
            version = self._version(account_id, uuid)
            if hit and hit[1] == version:
                return hit[2]
        elif hit and hit[0] > self._clock():
            return hit[2]
        generation = self._generation.get(key, 0)
        fn, version = self.get(account_id, uuid)
        if not self._fresh and not is_invocable(fn.state, live=fn.live):
            return fn  # not kept: a deploy through another container then answers at its first invocation
        if len(self._cache) > 10_000:
            self._cache.clear()
        if self._generation.get(key, 0) == generation:  # no local write since the read began: not stale
            self._cache[key] = (self._clock() + self.CACHE_TTL_S, version, fn)
        return fn

    def _version(self, account_id: str, uuid: str) -> int:
        version = self._store.version("function", account_id, uuid)
        if version is None:
            raise FunctionNotFound(uuid=uuid, account_id=account_id)
        return version

    def _forget(self, account_id: str, uuid: str) -> None:
        key = (account_id, uuid)
        self._generation[key] = self._generation.get(key, 0) + 1
        self._cache.pop(key, None)

    # -- functions --------------------------------------------------------------------------------------------
    def get(self, account_id: str, uuid: str) -> tuple[Function, int]:
        """The function and its record version (for optimistic concurrency); FunctionNotFound if absent."""
        record = self._store.get("function", account_id, uuid)
        if record is None:
            raise FunctionNotFound(uuid=uuid, account_id=account_id)
        return Function.from_dict(record.data), record.version

    def list(self, account_id: str, **filters: object) -> list[Function]:
        return self._listing(account_id, filters, self._full, (), Function.from_dict)

    def list_meta(self, account_id: str, **filters: object) -> builtins.list[Function]:
        """As list(), but the functions come without code, environment, dependencies (of the manifest and of the
        last deployment's snapshot: empty) and sample payload (None), which the store then neither returns nor
        decodes. For listings of meta data; never run or save these."""
        return self._listing(account_id, filters, self._meta, _META_OMIT, lambda data: Function.from_dict(_meta(data)))

    def _listing(self, account_id: str, filters: dict[str, object], cache: dict[tuple[str, str], tuple[int, Function]],
                 omit: tuple[str, ...], decode: Callable[[dict], Function]) -> builtins.list[Function]:
        """The functions matching ``filters``, exactly as stored now: first only their keys and record versions
        (cheap), then the documents of those not decoded before at that version — one by one when few, else all
        at once. Decoded functions are kept per record version, so an unchanged function is decoded once."""
        if len(cache) > _LISTED_MAX:
            cache.clear()

        def known(sk: str, version: int, data: dict) -> Function:
            hit = cache.get((account_id, sk))
            if hit is None or hit[0] != version:
                hit = cache[(account_id, sk)] = (version, decode(data))
            return hit[1]

        keys = self._store.query(Query("function", account_id, filters=dict(filters), keys_only=True))
        out: dict[str, Function] = {}
        stale = []
        for r in keys:
            hit = cache.get((account_id, r.sk))
            if hit is not None and hit[0] == r.version:
                out[r.sk] = hit[1]
            else:
                stale.append(r.sk)
        if len(stale) > _ONE_BY_ONE:  # one query; its answer is the listing (decoding only what changed)
            records = self._store.query(Query("function", account_id, filters=dict(filters), omit=omit))
            out = {r.sk: known(r.sk, r.version, r.data) for r in records}
        else:
            for sk in stale:  # changed since decoded: read again, unless gone or no longer matching meanwhile
                got = self._store.get("function", account_id, sk)
                if got is not None and all(got.data.get(k) == v for k, v in filters.items()):
                    out[sk] = known(sk, got.version, omit_fields(got.data, check_omit(omit)))
        return sorted(out.values(), key=lambda f: f.created_at)

    def count(self, account_id: str) -> int:
        return self._store.count(Query("function", account_id))

    def create(self, fn: Function) -> None:
        try:
            self._store.transact([
                Put("fname", fn.account_id, fn.name.lower(), {"uuid": fn.uuid}, MUST_NOT_EXIST),
                Put("function", fn.account_id, fn.uuid, fn.to_dict(), MUST_NOT_EXIST),
                Put("manifest", _fn_pk(fn.account_id, fn.uuid), _seq(fn.manifest.version), fn.manifest.to_dict(),
                    MUST_NOT_EXIST),
            ])
        except VersionConflict:
            raise NameTaken(name=fn.name) from None

    def save(self, fn: Function, expected_version: int, *, new_manifest: bool = False,
             old_name: str | None = None, also: Sequence[Put | Delete] = ()) -> int:
        """Write ``fn`` if nobody changed it since ``expected_version``, with ``also`` in the same transaction
        (a deployment record, the job that carries it out); returns the new record version."""
        self._forget(fn.account_id, fn.uuid)
        ops: list[Put | Delete] = [Put("function", fn.account_id, fn.uuid, fn.to_dict(), expected_version), *also]
        if new_manifest:
            ops.append(Put("manifest", _fn_pk(fn.account_id, fn.uuid), _seq(fn.manifest.version),
                           fn.manifest.to_dict(), MUST_NOT_EXIST))
        if old_name is not None and old_name.lower() != fn.name.lower():
            ops += [Delete("fname", fn.account_id, old_name.lower()),
                    Put("fname", fn.account_id, fn.name.lower(), {"uuid": fn.uuid}, MUST_NOT_EXIST)]
        try:
            self._store.transact(ops)
        except VersionConflict:
            self._forget(fn.account_id, fn.uuid)
            if old_name is not None and self._store.get("fname", fn.account_id, fn.name.lower()):
                raise NameTaken(name=fn.name) from None
            raise VersionConflict(what=f"Function {fn.uuid}") from None
        self._forget(fn.account_id, fn.uuid)  # again: an invocation may have cached the old value meanwhile
        return expected_version + 1

    def delete(self, fn: Function, expected_version: int) -> None:
        pk = _fn_pk(fn.account_id, fn.uuid)
        self._forget(fn.account_id, fn.uuid)
        self._store.transact([Delete("function", fn.account_id, fn.uuid, expected_version),
                              Delete("fname", fn.account_id, fn.name.lower())])
        for kind in ("manifest", "deployment"):
            for record in self._store.query(Query(kind, pk)):
                self._store.delete(kind, pk, record.sk)

    # -- manifests ----------------------------------------------------------------------------------------------
    def manifests(self, account_id: str, uuid: str, limit: int | None = None) -> builtins.list[Manifest]:
        records = self._store.query(Query("manifest", _fn_pk(account_id, uuid), reverse=True, limit=limit))
        return [Manifest.from_dict(r.data) for r in records]

    def prune_manifests(self, account_id: str, uuid: str, keep: int) -> None:
        pk = _fn_pk(account_id, uuid)
        for record in self._store.query(Query("manifest", pk, reverse=True))[keep:]:
            self._store.delete("manifest", pk, record.sk)

    # -- deployments --------------------------------------------------------------------------------------------
    def deployments(self, account_id: str, uuid: str, limit: int | None = None) -> builtins.list[Deployment]:
        records = self._store.query(Query("deployment", _fn_pk(account_id, uuid), reverse=True, limit=limit))
        return [Deployment.from_dict(r.data) for r in records]

    def deployment(self, account_id: str, uuid: str, deployment_id: int) -> Deployment | None:
        record = self._store.get("deployment", _fn_pk(account_id, uuid), _seq(deployment_id))
        return Deployment.from_dict(record.data) if record else None

    def next_deployment_id(self, account_id: str, uuid: str) -> int:
        last = self.deployments(account_id, uuid, limit=1)
        return last[0].id + 1 if last else 1

    @staticmethod
    def deployment_op(dep: Deployment, *, create: bool = False) -> Put:
        """The write of ``dep``, for a transaction with the function's."""
        return Put("deployment", _fn_pk(dep.account_id, dep.function_uuid), _seq(dep.id), dep.to_dict(),
                   MUST_NOT_EXIST if create else None)

    def put_deployment(self, dep: Deployment, *, create: bool = False) -> None:
        try:
            self._store.put("deployment", _fn_pk(dep.account_id, dep.function_uuid), _seq(dep.id), dep.to_dict(),
                            expected_version=MUST_NOT_EXIST if create else None)
        except VersionConflict:
            raise VersionConflict(what=f"Deployment {dep.id} of {dep.function_uuid}") from None

    def prune_deployments(self, account_id: str, uuid: str, keep: int, protect: int | None) -> None:
        pk = _fn_pk(account_id, uuid)
        for record in self._store.query(Query("deployment", pk, reverse=True))[keep:]:
            if protect is None or record.data.get("id") != protect:
                self._store.delete("deployment", pk, record.sk)


def summary(dep: Deployment) -> Deployment:
    """A deployment without its manifest snapshot, as embedded in the function record."""
    return replace(dep, manifest=None)
