"""ObjectService: Kubernetes object semantics over a Store.

Create, get, list, update, patch, delete and watch with what kube-apiserver guarantees: uid,
creationTimestamp, resourceVersion (the store's mod revision), generation, optimistic
concurrency, finalizers and deletionTimestamp, label and field selectors, paging, watch from a
revision with 410 Gone, dry-run, managed fields. The HTTP layer (kfed.api.http) and in-process
controllers (the simulated clusters' kubelet and endpoints controllers) both call this, so every
writer sees the same rules.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import copy
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from kfed.api import codec
from kfed.api import errors as E
from kfed.api.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from kfed.model import validation
from kfed.model.resource import CauseType, FieldCause, Obj, ResourceType
from kfed.storage.protocol import (
    CARRIES_DECODED,
    CompactedError,
    ConflictError,
    Decoded,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    StoreError,
)

#: metadata fields the server owns: a client's values are replaced on create and kept on update
_SERVER_META = ("uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp",
                "deletionGracePeriodSeconds", "selfLink")
log = logging.getLogger("kfed.api")
_RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str
    remaining: int | None


@dataclass(frozen=True, slots=True)
class WatchItem:
    """One event of a watch, as kube-apiserver sends it. `key`/`revision` identify it for caching
    encoded frames: many watchers of one resource share one encoding."""

    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Obj
    key: str = ""
    revision: int = 0


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"  # Strict | Warn | Ignore
    force: bool = False  # server-side apply --force-conflicts
    warnings: list[str] = field(default_factory=list)
    # The caller only reads what the write returns (encodes it, or looks at a few fields): the
    # result may then share its values with the object watchers get, and watchers get the
    # written object instead of decoding the stored value again. Otherwise (the default) the
    # result is the caller's own: changing it changes nothing stored, cached or watched.
    shared_result: bool = False


#: Hook that records field ownership after a write: (rt, old, new, manager, operation, subresource).
ManagedFieldsHook = Callable[[ResourceType, Obj | None, Obj, str, str, str], None]


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Allocation:
    """What an Allocator took for one write. Exactly one of the two is called: `commit` once the
    object is stored (it gives back what the old object held and the new one no longer does),
    `revert` when the write did not happen (it gives back what this write took)."""

    commit: Callable[[], None] = _nothing
    revert: Callable[[], None] = _nothing


NO_ALLOCATION = Allocation()


class Allocator(Protocol):
    """Values the server assigns inside a write of one resource, as kube-apiserver assigns a
    Service's cluster IPs and node ports: the create's response and its first watch event already
    carry them, and no second write follows. Register one with `ObjectService.set_allocator`.

    Only ObjectService can do this (a strategy hook could not): it alone knows whether the write
    then happens, and gives the values back when it does not (invalid, AlreadyExists, a conflict,
    a store error). A cancelled write is not reverted: it may have been stored all the same, and a
    value leaked is better than one held twice.
    """

    def allocate(self, obj: Obj, old: Obj | None) -> Allocation:
        """Fill in what the server assigns in `obj`, the object about to be stored: a create when
        `old` is None, else an update (spec, not status) of `old`. Runs after defaulting,
        validation and managed fields, before the write. Raise ApiError to refuse the write."""
        ...

    def release(self, obj: Obj) -> None:
        """`obj` has been deleted: give back everything it held."""
        ...


class _DecodedStore(Protocol):
    """A Store whose writes take the decoded object for their watchers (CARRIES_DECODED)."""

    async def create(self, key: str, value: bytes, *, decoded: Decoded | None = None) -> KeyValue: ...

    async def update(self, key: str, value: bytes, expected_mod_revision: int | None = None, *,
                     decoded: Decoded | None = None) -> KeyValue: ...


class _RandomPool:
    """os.urandom read 4 KiB at a time: a system call per uid costs more than the rest of it."""

    def __init__(self) -> None:
        self._data = b""
        self._at = 0
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)  # a child must not reuse the parent's bytes

    def _forget(self) -> None:
        self._data, self._at, self._lock = b"", 0, threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:  # no two callers (threads) may get the same bytes
            if self._at + n > len(self._data):
                self._data, self._at = os.urandom(4096), 0
            chunk = self._data[self._at:self._at + n]
            self._at += n
            return chunk


_random_pool = _RandomPool()


def new_uid() -> str:
    """A random (version 4) UUID as text, as str(uuid.uuid4()) writes it."""
    raw = bytearray(_random_pool.take(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(n))


def object_namespace(obj: Obj) -> str:
    return obj.get("metadata", {}).get("namespace", "") or ""


def object_name(obj: Obj) -> str:
    return obj.get("metadata", {}).get("name", "") or ""


INITIAL_BATCH = 500  # current objects per batch when a watch starts with them


class _DecodeCache:
    """Decoded objects by (key, mod revision). Entries are shared: callers copy before mutating."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._data: OrderedDict[tuple[str, int], Obj] = OrderedDict()

    def get(self, kv: KeyValue, decoded: Obj | None = None) -> Obj:
        """`decoded`: the object of kv as its writer made it (resourceVersion included), if known."""
        k = (kv.key, kv.mod_revision)
        obj = self._data.get(k)
        if obj is None:
            if decoded is not None:
                obj = decoded
            else:
                obj = codec.loads(kv.value)
                obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
            self._data[k] = obj
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return obj


class ObjectService:
    def __init__(
        self,
        store: Store,
        resources: list[ResourceType],
        *,
        managed_fields: ManagedFieldsHook | None = None,
        bookmark_interval: float = 5.0,
        decode_cache_size: int = 20_000,
    ) -> None:
        self.store = store
        self.resources = list(resources)
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_kind = {(r.group, r.kind): r for r in resources}
        self._managed_fields = managed_fields
        self._decoded = _DecodeCache(decode_cache_size)
        self.bookmark_interval = bookmark_interval
        self.namespaces = self._by_path.get(("", "v1", "namespaces"))
        self._background: set[asyncio.Task[None]] = set()
        self._allocators: dict[tuple[str, str], Allocator] = {}
        # An in-process store hands watchers the object each write stored (no decode per event).
        self._decoded_store = cast(_DecodedStore, store) if getattr(store, CARRIES_DECODED, False) is True else None

    def set_allocator(self, rt: ResourceType, allocator: Allocator | None) -> None:
        """Assign server-allocated values in every create and spec update of `rt` (None: stop)."""
        if allocator is None:
            self._allocators.pop((rt.group, rt.plural), None)
        else:
            self._allocators[(rt.group, rt.plural)] = allocator

    def _allocator(self, rt: ResourceType) -> Allocator | None:
        return self._allocators.get((rt.group, rt.plural)) if self._allocators else None

    # -- lookup --------------------------------------------------------------------------

    def resource(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def resource_for_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, kind))

    def require(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.resource(group, version, plural)
        if rt is None:
            raise E.ApiError(404, "NotFound", "the server could not find the requested resource")
        return rt

    # -- reads ---------------------------------------------------------------------------

    def _decode(self, kv: KeyValue) -> Obj:
        """A private copy the caller may change: decoding afresh is cheaper than a deep copy."""
        obj: Obj = codec.loads(kv.value)
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return obj

    def _decode_shared(self, kv: KeyValue) -> Obj:
        return self._decoded.get(kv)

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        kv = await self.store.get(rt.storage_key(namespace, name))
        if kv is None:
            raise E.not_found(rt, name)
        return self._decode(kv)

    async def get_or_none(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        kv = await self.store.get(rt.storage_key(namespace, name))
        return None if kv is None else self._decode(kv)

    async def get_shared_or_none(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """The live object as the decode cache holds it, shared: for readers that change nothing
        (a controller deciding whether to write); no decode when a watch event or a read put it there."""
        kv = await self.store.get(rt.storage_key(namespace, name))
        return None if kv is None else self._decode_shared(kv)

    def _prefix(self, rt: ResourceType, namespace: str | None) -> str:
        if rt.namespaced and namespace:
            return f"{rt.storage_prefix()}{namespace}/"
        return rt.storage_prefix()

    def field_values(self, rt: ResourceType, obj: Obj) -> dict[str, str]:
        meta = obj.get("metadata", {})
        values = {"metadata.name": meta.get("name", "")}
        if rt.namespaced:
            values["metadata.namespace"] = meta.get("namespace", "")
        values.update(rt.strategy.selectable_fields(obj))
        return values

    def _check_field_selector(self, rt: ResourceType, fs: FieldSelector) -> None:
        if fs.empty:
            return
        sample = self.field_values(rt, {"metadata": {}, "spec": {}, "status": {}})
        for f in fs.fields():
            if f not in sample:
                raise E.bad_request(f'field label not supported: {f}')

    def _matcher(self, rt: ResourceType, label_selector: str | None, field_selector: str | None
                 ) -> Callable[[Obj], bool] | None:
        try:
            ls: LabelSelector = parse_label_selector(label_selector)
            fs: FieldSelector = parse_field_selector(field_selector)
        except ValueError as e:
            raise E.bad_request(str(e)) from e
        self._check_field_selector(rt, fs)
        if ls.empty and fs.empty:
            return None

        def match(obj: Obj) -> bool:
            if not ls.matches(obj.get("metadata", {}).get("labels")):
                return False
            return fs.empty or fs.matches(self.field_values(rt, obj))

        return match

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        copy_items: bool = True,
    ) -> ListResult:
        prefix = self._prefix(rt, namespace)
        match = self._matcher(rt, label_selector, field_selector)
        start_after: str | None = None
        if continue_token:
            start_after = self._decode_continue(continue_token, prefix)
        items: list[Obj] = []
        revision = self.store.revision
        last_key: str | None = None
        more = False
        chunk = max(limit, 500) if limit else 0
        while True:
            res = await self.store.range(prefix, start_after=start_after, limit=chunk)
            revision = res.revision
            for kv in res.kvs:
                obj = self._decoded.get(kv)
                if match is not None and not match(obj):
                    continue
                if limit and len(items) >= limit:
                    more = True
                    break
                items.append(self._decode(kv) if copy_items else obj)
                last_key = kv.key
            if more or not res.more or not res.kvs:
                if not more and res.more:
                    more = True
                break
            start_after = res.kvs[-1].key
            if limit and len(items) >= limit:
                # exactly full: there may be more matching items after this chunk
                more = True
                break
        token = ""
        if more and last_key is not None:
            token = self._encode_continue(revision, last_key)
        return ListResult(items, str(revision), token, None)

    @staticmethod
    def _encode_continue(revision: int, key: str) -> str:
        raw = codec.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode_continue(self, token: str, prefix: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = codec.loads(raw)
            key, rv = str(data["start"]), int(data["rv"])
        except Exception as e:  # noqa: BLE001 - any malformed token is the client's error
            raise E.bad_request(f"continue key is not valid: {e}") from e
        if not key.startswith(prefix):
            raise E.bad_request("continue key is not valid: it belongs to another list")
        if rv <= self.store.compacted_revision and rv < self.store.revision and self.store.compacted_revision > 0:
            raise E.gone("The provided continue parameter is too old to display a consistent list result. "
                         "You can start a new list without the continue parameter.")
        return key

    # -- helpers for writes --------------------------------------------------------------

    def _check_kind(self, rt: ResourceType, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise E.bad_request("the body of the request must be a JSON or YAML object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != rt.kind:
            raise E.bad_request(f"the kind of the object ({kind}) does not match the kind of the URL ({rt.kind})")
        if api_version and api_version != rt.group_version:
            raise E.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.group_version})")
        obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise E.bad_request("metadata must be an object")
        return obj

    async def _check_namespace_for_create(self, rt: ResourceType, namespace: str | None, obj: Obj) -> None:
        meta = obj["metadata"]
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise E.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace or body_ns or "default"
        if self.namespaces is not None:
            ns_kv = await self.store.get(self.namespaces.storage_key(None, meta["namespace"]))
            ns_obj = None if ns_kv is None else self._decode_shared(ns_kv)  # read only: no copy
            if ns_obj is None:
                raise E.not_found(self.namespaces, meta["namespace"])
            if ns_obj.get("metadata", {}).get("deletionTimestamp") or \
                    ns_obj.get("status", {}).get("phase") == "Terminating":
                raise E.ApiError(
                    403, "Forbidden",
                    f'{rt.plural} "{meta.get("name", "")}" is forbidden: unable to create new content in namespace '
                    f'{meta["namespace"]} because it is being terminated',
                    details={"name": meta.get("name", ""), "kind": rt.plural,
                             "causes": [{"reason": "NamespaceTerminating",
                                         "message": f"namespace {meta['namespace']} is being terminated",
                                         "field": "metadata.namespace"}]})

    def _validate(self, rt: ResourceType, obj: Obj, old: Obj | None, subresource: str = "") -> None:
        causes = list(validate_meta(rt, obj, old))
        if old is not None and subresource == "status":
            causes += rt.strategy.validate_status_update(obj, old)
        else:
            causes += rt.strategy.validate(obj)
            if old is not None:
                causes += rt.strategy.validate_update(obj, old)
        if causes:
            raise E.invalid(rt, object_name(obj), causes)

    def _record_ownership(self, rt: ResourceType, old: Obj | None, new: Obj, opts: WriteOptions,
                          operation: str, subresource: str) -> None:
        if self._managed_fields is not None and opts.field_manager:
            self._managed_fields(rt, old, new, opts.field_manager, operation, subresource)

    def _encode_for_store(self, obj: Obj) -> bytes:
        meta = obj["metadata"]
        rv = meta.pop("resourceVersion", None)
        try:
            return codec.dumps(obj)
        finally:
            if rv is not None:
                meta["resourceVersion"] = rv

    def _with_rv(self, obj: Obj, kv: KeyValue) -> Obj:
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return obj

    @staticmethod
    def _for_watchers(obj: Obj) -> Callable[[int], Obj]:
        """What watchers of a write get, at the revision the store gives it: the written object
        with a top level and metadata of its own (the writer stamps resourceVersion on `obj`
        after the write); below them the values are shared with the writer's result, which
        nobody changes (WriteOptions.shared_result)."""
        def decoded(revision: int) -> Obj:
            return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(revision)}}
        return decoded

    async def _store_create(self, key: str, obj: Obj, shared: bool) -> KeyValue:
        value = self._encode_for_store(obj)
        if shared and self._decoded_store is not None:
            return await self._decoded_store.create(key, value, decoded=self._for_watchers(obj))
        return await self.store.create(key, value)

    async def _store_update(self, key: str, obj: Obj, expected_mod_revision: int, shared: bool) -> KeyValue:
        value = self._encode_for_store(obj)
        if shared and self._decoded_store is not None:
            return await self._decoded_store.update(key, value, expected_mod_revision,
                                                    decoded=self._for_watchers(obj))
        return await self.store.update(key, value, expected_mod_revision)

    # -- create --------------------------------------------------------------------------

    async def create(self, rt: ResourceType, namespace: str | None, body: Any,
                     opts: WriteOptions | None = None) -> Obj:
        opts = opts or WriteOptions()
        obj = self._check_kind(rt, body)
        await self._check_namespace_for_create(rt, namespace, obj)
        meta = obj["metadata"]
        for f in _SERVER_META:
            meta.pop(f, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + _random_suffix()
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = codec.now_rfc3339()
        meta["generation"] = 1
        rt.strategy.default(obj)
        rt.strategy.prepare_for_create(obj)
        drop_empty_metadata(obj)
        self._validate(rt, obj, None)
        self._record_ownership(rt, None, obj, opts, "Update", "")
        key = rt.storage_key(meta.get("namespace"), meta["name"])
        allocator = self._allocator(rt)
        if opts.dry_run:
            if await self.store.get(key) is not None:
                raise E.already_exists(rt, meta["name"])
            if allocator is not None:
                # Refused as the write would be, and showing values; nothing is kept.
                allocator.allocate(obj, None).revert()
            return obj
        allocation = NO_ALLOCATION if allocator is None else allocator.allocate(obj, None)
        try:
            kv = await self._store_create(key, obj, opts.shared_result)
        except KeyExistsError as e:
            allocation.revert()
            raise E.already_exists(rt, meta["name"]) from e
        except Exception:
            allocation.revert()
            raise
        allocation.commit()
        return self._with_rv(obj, kv)

    # -- update --------------------------------------------------------------------------

    async def update(self, rt: ResourceType, namespace: str | None, name: str, body: Any,
                     opts: WriteOptions | None = None, *, subresource: str = "") -> Obj:
        """PUT: replace the object (or its status). A resourceVersion in the body is a precondition."""
        opts = opts or WriteOptions()
        obj = self._check_kind(rt, body)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise E.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise E.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        precondition = meta.get("resourceVersion") or None
        key = rt.storage_key(namespace, name)
        while True:
            kv = await self.store.get(key)
            if kv is None:
                raise E.not_found(rt, name)
            if precondition is not None and precondition != str(kv.mod_revision):
                raise E.stale_object(rt, name)
            new = copy.deepcopy(obj)
            try:
                return await self._replace(rt, kv, new, opts, subresource, "Update")
            except ConflictError:
                if precondition is not None:
                    raise E.stale_object(rt, name) from None
                continue  # unconditional update: retry on the newer object

    async def _replace(self, rt: ResourceType, kv: KeyValue, new: Obj, opts: WriteOptions,
                       subresource: str, operation: str) -> Obj:
        """Write `new` over the object stored in kv (CAS on its mod revision). Raises ConflictError."""
        # A write to /status takes only status and metadata from `new` and never changes the
        # stored object's other values: the shared decoded copy will do (no decode per write).
        shared_old = subresource == "status"
        old = self._decode_shared(kv) if shared_old else self._decode(kv)
        old_meta, meta = old["metadata"], new.setdefault("metadata", {})
        new["apiVersion"], new["kind"] = rt.group_version, rt.kind
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta["name"] = old_meta["name"]
        if rt.namespaced:
            meta["namespace"] = old_meta["namespace"]
        if subresource == "finalize":  # namespaces/finalize: only spec.finalizers may change
            finalizers = new.get("spec", {}).get("finalizers", [])
            new = {**copy.deepcopy(old), "spec": {**old.get("spec", {}), "finalizers": finalizers}}
            meta = new["metadata"]
        elif subresource == "status":
            rt.strategy.prepare_for_status_update(new, old)
        else:
            rt.strategy.default(new)
            if rt.has_status:
                rt.strategy.prepare_for_update(new, old)
            if rt.strategy.changes_generation(new, old):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if old_meta.get("deletionTimestamp"):
            # Being deleted: only removing finalizers (and status changes) may happen now.
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise E.invalid(rt, meta["name"], [_forbidden("metadata.finalizers",
                                "no new finalizers can be added if the object is being deleted")])
        drop_empty_metadata(new)
        self._validate(rt, new, old, subresource)
        self._record_ownership(rt, old, new, opts, operation, subresource)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        # Before the no-op check: an object stored without its values gets them from any update.
        allocator = self._allocator(rt) if not subresource else None
        allocation = NO_ALLOCATION if allocator is None else allocator.allocate(new, old)
        if _same_object(new, old):
            allocation.revert()
            # a no-op update writes nothing and keeps the resourceVersion
            return self._decode(kv) if shared_old else old
        if opts.dry_run:
            allocation.revert()
            return new
        if old_meta.get("deletionTimestamp") and not meta.get("finalizers") and not (
                rt.kind == "Namespace" and new.get("spec", {}).get("finalizers")):
            # The last finalizer is gone: the object goes away now.
            try:
                _, rev = await self.store.delete(kv.key, kv.mod_revision)
            finally:
                allocation.revert()  # the new values were never stored; the old ones go below
            if allocator is not None:
                allocator.release(old)
            meta["resourceVersion"] = str(rev)
            self._collect_dependents(rt, new)
            return new
        try:
            stored = await self._store_update(kv.key, new, kv.mod_revision, opts.shared_result)
        except Exception:
            allocation.revert()
            raise
        allocation.commit()
        return self._with_rv(new, stored)

    async def modify(self, rt: ResourceType, namespace: str | None, name: str,
                     mutate: Callable[[Obj], Obj | None], opts: WriteOptions | None = None, *,
                     subresource: str = "", operation: str = "Update",
                     create: Callable[[], Obj] | None = None) -> Obj:
        """Read-modify-write with retry on conflict: the basis of every PATCH.

        `mutate` gets a private copy of the live object (with its resourceVersion) and returns the
        new object (or mutates in place and returns None). When the object does not exist and
        `create` is given, its result is created instead (server-side apply of a new object).
        """
        opts = opts or WriteOptions()
        key = rt.storage_key(namespace, name)
        for _ in range(100):
            kv = await self.store.get(key)
            if kv is None:
                if create is None:
                    raise E.not_found(rt, name)
                return await self.create(rt, namespace, create(), opts)
            current = self._decode(kv)
            rv_before = current["metadata"].get("resourceVersion")
            result = mutate(current)
            new = current if result is None else result
            new = self._check_kind(rt, new)
            precondition = new["metadata"].get("resourceVersion")
            if precondition and precondition != rv_before:
                raise E.stale_object(rt, name)
            if new["metadata"].get("name", name) != name:
                raise E.bad_request("metadata.name: the name may not be changed by a patch")
            try:
                return await self._replace(rt, kv, new, opts, subresource, operation)
            except ConflictError:
                continue
        raise E.conflict(rt, name, "too many concurrent writers; try again")

    # -- delete --------------------------------------------------------------------------

    async def delete(self, rt: ResourceType, namespace: str | None, name: str, *,
                     preconditions: dict[str, Any] | None = None, dry_run: bool = False,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None) -> tuple[Obj, bool]:
        """Returns (object, gone): gone is False when finalizers keep it (deletionTimestamp set)."""
        key = rt.storage_key(namespace, name)
        for _ in range(100):
            kv = await self.store.get(key)
            if kv is None:
                raise E.not_found(rt, name)
            obj = self._decode(kv)
            meta = obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise E.conflict(rt, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                 f"UID in object meta: {meta.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                raise E.conflict(rt, name, "Precondition failed: ResourceVersion in precondition: "
                                 f"{pre['resourceVersion']}, ResourceVersion in object meta: {meta.get('resourceVersion')}")
            finalizers = list(meta.get("finalizers") or [])
            if rt.kind == "Namespace" and (obj.get("spec", {}).get("finalizers")):
                finalizers.append("__spec__")
            if finalizers:
                if meta.get("deletionTimestamp"):
                    return obj, False
                meta["deletionTimestamp"] = codec.now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                if rt.kind == "Namespace":
                    obj.setdefault("status", {})["phase"] = "Terminating"
                if dry_run:
                    return obj, False
                try:
                    stored = await self._store_update(key, obj, kv.mod_revision, False)
                except ConflictError:
                    continue
                return self._with_rv(obj, stored), False
            if dry_run:
                return obj, True
            try:
                _, rev = await self.store.delete(key, kv.mod_revision)
            except ConflictError:
                continue
            except KeyNotFoundError as e:
                raise E.not_found(rt, name) from e
            allocator = self._allocator(rt)
            if allocator is not None:
                allocator.release(obj)
            meta["resourceVersion"] = str(rev)
            if propagation_policy != "Orphan":
                self._collect_dependents(rt, obj)
            return obj, True
        raise E.conflict(rt, name, "too many concurrent writers; try again")

    # -- garbage collection ----------------------------------------------------------------

    def _collect_dependents(self, rt: ResourceType, owner: Obj) -> None:
        """Delete, in the background, what names the deleted object in its ownerReferences."""
        uid = owner.get("metadata", {}).get("uid")
        if not uid:
            return
        task = asyncio.get_running_loop().create_task(self._delete_dependents(rt, owner, uid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delete_dependents(self, rt: ResourceType, owner: Obj, uid: str) -> None:
        ns = owner["metadata"].get("namespace") if rt.namespaced else None
        for other in self.resources:
            if rt.namespaced and not other.namespaced:
                continue  # a namespaced owner cannot own cluster-scoped objects
            res = await self.store.range(self._prefix(other, ns))
            for kv in res.kvs:
                obj = self._decoded.get(kv)
                refs = obj.get("metadata", {}).get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                meta = obj["metadata"]
                try:
                    if all(r.get("uid") == uid for r in refs):
                        await self.delete(other, meta.get("namespace"), meta["name"])
                    else:
                        def drop(o: Obj, uid: str = uid) -> None:
                            o["metadata"]["ownerReferences"] = [
                                r for r in o["metadata"].get("ownerReferences", []) if r.get("uid") != uid]
                        await self.modify(other, meta.get("namespace"), meta["name"], drop)
                except E.ApiError as e:
                    if e.code != 404:
                        log.warning("garbage collection of %s/%s failed: %s", other.plural, meta["name"], e.message)

    async def drain_background(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- watch ---------------------------------------------------------------------------

    async def watch(self, rt: ResourceType, namespace: str | None, **options: Any) -> AsyncIterator[WatchItem]:
        """Events after resource_version; with "" or "0", the current objects first as ADDED.
        The options are those of `watch_batches`, whose batches this hands out one item at a time."""
        return self._flatten(await self.watch_batches(rt, namespace, **options))

    @staticmethod
    async def _flatten(batches: AsyncIterator[builtins.list[WatchItem]]) -> AsyncIterator[WatchItem]:
        try:
            async for batch in batches:
                for item in batch:
                    yield item
        finally:
            await batches.aclose()  # type: ignore[attr-defined]

    async def watch_batches(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = False,
        send_initial_events: bool | None = None,
        timeout: float | None = None,
        name: str | None = None,
    ) -> AsyncIterator[builtins.list[WatchItem]]:
        """As `watch`, in the batches the store delivers (never empty): what one wake-up has for
        the watcher, so an HTTP watch can send it in one write."""
        prefix = self._prefix(rt, namespace)
        if name is not None:
            field_selector = ",".join(x for x in (field_selector, f"metadata.name={name}") if x)
        match = self._matcher(rt, label_selector, field_selector)
        rv_text = resource_version or ""
        initial: builtins.list[WatchItem] = []
        if rv_text in ("", "0") or send_initial_events:
            res = await self.store.range(prefix)
            start = res.revision
            for kv in res.kvs:
                obj = self._decode_shared(kv)
                if match is None or match(obj):
                    initial.append(WatchItem("ADDED", obj, kv.key, kv.mod_revision))
        else:
            try:
                start = int(rv_text)
            except ValueError as e:
                raise E.bad_request(f"invalid resource version: {rv_text}") from e
        try:
            watcher = await self.store.watch(prefix, start)
        except CompactedError as e:
            raise E.gone(f"too old resource version: {start} ({e.compacted + 1})") from e
        return self._watch_stream(rt, watcher, initial, match, allow_bookmarks,
                                  bool(send_initial_events), start, timeout)

    async def _watch_stream(self, rt: ResourceType, watcher: Any, initial: builtins.list[WatchItem],
                            match: Callable[[Obj], bool] | None, allow_bookmarks: bool,
                            initial_end_bookmark: bool, start: int, timeout: float | None
                            ) -> AsyncIterator[builtins.list[WatchItem]]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            for i in range(0, len(initial), INITIAL_BATCH):
                yield initial[i:i + INITIAL_BATCH]
            if initial_end_bookmark and allow_bookmarks:
                yield [self._bookmark(rt, start, initial_end=True)]
            while True:
                # One future and at most one timer per wait (no task per event): 1,000 watchers
                # of one resource, as client-go sends them (bookmarks, timeoutSeconds), make this
                # the hot path of every write.
                wait = self.bookmark_interval if allow_bookmarks else None
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        return
                    wait = left if wait is None else min(wait, left)
                try:
                    batch = await watcher.next_batch(wait)
                except StopAsyncIteration:
                    return
                except StoreError as e:
                    yield [WatchItem("ERROR", E.gone(f"watch ended: {e}").status())]
                    return
                if batch is None:  # a quiet interval
                    if allow_bookmarks and (deadline is None or loop.time() < deadline):
                        yield [self._bookmark(rt, watcher.revision)]
                    continue
                items = [item for ev in batch if (item := self._event_item(ev, match)) is not None]
                if items:
                    yield items
        finally:
            await watcher.close()

    def _event_item(self, ev: Any, match: Callable[[Obj], bool] | None) -> WatchItem | None:
        if ev.type is EventType.DELETE:
            obj = dict(self._decode_shared(ev.prev or ev.kv))
            obj["metadata"] = dict(obj["metadata"], resourceVersion=str(ev.kv.mod_revision))
            if match is not None and not match(obj):
                return None
            return WatchItem("DELETED", obj, ev.kv.key, ev.kv.mod_revision)
        # A store in this process hands over the object its writer stored: no decode per event.
        obj = self._decoded.get(ev.kv, ev.decoded)
        if match is None:
            return WatchItem("ADDED" if ev.prev is None else "MODIFIED", obj, ev.kv.key, ev.kv.mod_revision)
        now_match = match(obj)
        was_match = ev.prev is not None and match(self._decode_shared(ev.prev))
        if now_match and was_match:
            return WatchItem("MODIFIED", obj, ev.kv.key, ev.kv.mod_revision)
        if now_match:
            return WatchItem("ADDED", obj, ev.kv.key, ev.kv.mod_revision)
        if was_match:
            gone = dict(obj)
            return WatchItem("DELETED", gone, ev.kv.key, ev.kv.mod_revision)
        return None

    def _bookmark(self, rt: ResourceType, revision: int, initial_end: bool = False) -> WatchItem:
        meta: Obj = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return WatchItem("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.group_version, "metadata": meta})

    # -- bootstrap -----------------------------------------------------------------------

    async def ensure_namespaces(self, names: builtins.list[str]) -> None:
        if self.namespaces is None:
            return
        for ns in names:
            if await self.get_or_none(self.namespaces, None, ns) is None:
                try:
                    await self.create(self.namespaces, None, {"metadata": {"name": ns}})
                except E.ApiError as e:
                    if e.code != 409:
                        raise


def _forbidden(path: str, message: str) -> Any:
    return FieldCause(CauseType.FORBIDDEN, path, message)


_OMIT_EMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields", "generateName")


def drop_empty_metadata(obj: Obj) -> None:
    """Go's omitempty: an empty map, list or string in ObjectMeta is not there at all."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for k in _OMIT_EMPTY_META:
            if k in meta and meta[k] in ({}, [], "", None):
                del meta[k]


def _same_object(a: Obj, b: Obj) -> bool:
    """Equal apart from resourceVersion and managedFields timestamps."""
    def strip(o: Obj) -> Obj:
        m = dict(o.get("metadata", {}))
        m.pop("resourceVersion", None)
        mf = m.pop("managedFields", None)
        if mf:
            m["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in mf]
        return {**o, "metadata": m}

    return strip(a) == strip(b)


def validate_meta(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Any]:
    """ObjectMeta rules common to all kinds (name, namespace, labels, annotations, finalizers)."""
    fn = getattr(validation, "validate_object_meta", None)
    if fn is None:
        return []
    result: list[Any] = fn(obj, namespaced=rt.namespaced, old=old)
    return result


