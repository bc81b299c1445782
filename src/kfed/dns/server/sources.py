"""Zone sources: where the server's snapshots come from.

A source is anything with `snapshots()`, an async iterator of ZoneData: the server serves each
snapshot as it arrives (bumping the serial, journalling the diff, notifying secondaries). A slow
consumer only ever sees the latest snapshot (intermediate ones are skipped; the diff to the
latest still covers them).

`SnapshotBuilder` does the bookkeeping every source needs: it remembers the record sets it was
given, so a new full list (a re-read file, a re-listed API) turns into just the record sets that
changed, and only those are parsed again. A new source (the federation API's DNSRecordSet
objects, say) is a loop that calls `builder.replace_names({name: record_sets})` for the names that
changed (or `replace_name`, `apply`, `replace`) and publishes the result with
`LatestSnapshot.publish`; InMemoryZoneSource is the smallest example.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import dns.name
import yaml

from kfed.dns.server.zone import RecordSetLike, RecordSetSpec, ZoneData, ZoneDataError, ZoneSettings

logger = logging.getLogger("kfed.dns.server.sources")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SpecKey = tuple[str, str]  # (absolute lowercase name, TYPE)
_SpecValue = tuple[int, tuple[str, ...]]


class ZoneSource(Protocol):
    def snapshots(self) -> AsyncIterator[ZoneData]:
        """The current snapshot first, then each newer one, until cancelled."""
        ...


class SnapshotBuilder:
    """Successive snapshots of one zone from record-set inputs, each derived from the last."""

    def __init__(
        self, settings: ZoneSettings, records: Iterable[RecordSetLike] = (), *, serial: int = 0
    ) -> None:
        self._origin_text = settings.origin.to_text().lower()
        normalized = self._normalize(records)
        self.current = ZoneData.build(settings, normalized.values(), serial=serial)
        self._specs: dict[_SpecKey, _SpecValue] = {}
        self._types: dict[str, set[str]] = {}  # name -> its types, for replace_name
        for key, r in normalized.items():
            self._remember(key, (r.ttl, r.data))

    @property
    def settings(self) -> ZoneSettings:
        return self.current.settings

    def replace(self, records: Iterable[RecordSetLike], *, serial: int = 0) -> ZoneData:
        """The zone holding exactly `records` now; only the changed record sets are re-parsed."""
        normalized = self._normalize(records)
        upserts = [r for k, r in normalized.items() if self._specs.get(k) != (r.ttl, r.data)]
        deletes = [k for k in self._specs if k not in normalized]
        return self._derive(upserts, deletes, serial)

    def apply(
        self,
        upserts: Iterable[RecordSetLike] = (),
        deletes: Iterable[tuple[str, str]] = (),
        *,
        serial: int = 0,
    ) -> ZoneData:
        """The zone with `upserts` replacing their (name, type) and `deletes` removed."""
        normalized = self._normalize(upserts)
        delete_keys = [(self._absolute(n), t.upper()) for n, t in deletes]
        return self._derive(list(normalized.values()), delete_keys, serial)

    def replace_name(self, name: str, record_sets: Iterable[RecordSetLike], *, serial: int = 0) -> ZoneData:
        """Everything at `name` is now `record_sets` (types not among them are deleted): one
        name's worth of change. An empty list deletes the name."""
        return self.replace_names({name: record_sets}, serial=serial)

    def replace_names(self, names: Mapping[str, Iterable[RecordSetLike]], *, serial: int = 0) -> ZoneData:
        """`replace_name` for many names in one snapshot: each name's record sets are now exactly
        its entry's (an empty entry deletes the name). The cost follows the names given."""
        upserts: list[RecordSetSpec] = []
        deletes: list[_SpecKey] = []
        for name, record_sets in names.items():
            owner = self._absolute(name)
            normalized = self._normalize(record_sets)
            if any(n != owner for n, _ in normalized):
                raise ZoneDataError(f"record sets for {owner} name another owner")
            upserts += [r for k, r in normalized.items() if self._specs.get(k) != (r.ttl, r.data)]
            deletes += [(owner, t) for t in self._types.get(owner, ()) if (owner, t) not in normalized]
        return self._derive(upserts, deletes, serial)

    def with_settings(self, settings: ZoneSettings, *, serial: int = 0) -> ZoneData:
        """The same records under new settings (NS, SOA fields): a rebuild, settings change rarely."""
        if settings.origin != self.current.origin:
            raise ValueError("another origin is another zone: make a new SnapshotBuilder")
        records = [RecordSetSpec(n, t, ttl, data) for (n, t), (ttl, data) in self._specs.items()]
        self.current = ZoneData.build(settings, records, serial=serial)
        return self.current

    def _derive(self, upserts: list[RecordSetSpec], deletes: list[_SpecKey], serial: int) -> ZoneData:
        if not upserts and not deletes and not serial:
            return self.current
        zone = self.current.with_changes(upserts, deletes)
        if serial:
            zone = zone.with_serial(serial)
        self.current = zone
        for key in deletes:
            self._forget(key)
        for r in upserts:
            if r.data:
                self._remember((r.name, r.type), (r.ttl, r.data))
            else:
                self._forget((r.name, r.type))
        return zone

    def _remember(self, key: _SpecKey, value: _SpecValue) -> None:
        self._specs[key] = value
        self._types.setdefault(key[0], set()).add(key[1])

    def _forget(self, key: _SpecKey) -> None:
        if self._specs.pop(key, None) is not None:
            types = self._types[key[0]]
            types.discard(key[1])
            if not types:
                del self._types[key[0]]

    def _absolute(self, name: str) -> str:
        name = name.strip().lower()
        if name in ("", "@"):
            return self._origin_text
        if name.endswith("."):
            return name
        return f"{name}.{self._origin_text}"

    def _normalize(self, records: Iterable[RecordSetLike]) -> dict[_SpecKey, RecordSetSpec]:
        out: dict[_SpecKey, RecordSetSpec] = {}
        for r in records:
            name, rtype = self._absolute(r.name), r.type.strip().upper()
            out[(name, rtype)] = RecordSetSpec(name, rtype, int(r.ttl), tuple(sorted(set(r.data))))
        return out


class LatestSnapshot:
    """Holds the newest snapshot and lets any number of consumers iterate over updates to it."""

    def __init__(self, initial: ZoneData | None = None) -> None:
        self._value = initial
        self._changed = asyncio.Event()

    @property
    def value(self) -> ZoneData | None:
        return self._value

    def publish(self, snapshot: ZoneData) -> None:
        self._value = snapshot
        # Wake everyone waiting now; later waiters wait for the next publish.
        self._changed.set()
        self._changed = asyncio.Event()

    async def updates(self) -> AsyncIterator[ZoneData]:
        last: ZoneData | None = None
        while True:
            if self._value is not None and self._value is not last:
                last = self._value
                yield last
                continue
            await self._changed.wait()


class InMemoryZoneSource:
    """A zone held in memory and changed by calls: for tests and for `kfed up`'s builtin provider."""

    def __init__(
        self, settings: ZoneSettings, records: Iterable[RecordSetLike] = (), *, serial: int = 0
    ) -> None:
        self._builder = SnapshotBuilder(settings, records, serial=serial)
        self._latest = LatestSnapshot(self._builder.current)

    @property
    def current(self) -> ZoneData:
        return self._builder.current

    def replace(self, records: Iterable[RecordSetLike], *, serial: int = 0) -> ZoneData:
        return self._publish(self._builder.replace(records, serial=serial))

    def apply(
        self,
        upserts: Iterable[RecordSetLike] = (),
        deletes: Iterable[tuple[str, str]] = (),
        *,
        serial: int = 0,
    ) -> ZoneData:
        return self._publish(self._builder.apply(upserts, deletes, serial=serial))

    def _publish(self, zone: ZoneData) -> ZoneData:
        if zone is not self._latest.value:
            self._latest.publish(zone)
        return zone

    def snapshots(self) -> AsyncIterator[ZoneData]:
        return self._latest.updates()


class RecordFileError(ValueError):
    """A records file that cannot be read as a zone."""


def parse_records_file(
    text: str, *, origin: dns.name.Name | None = None
) -> tuple[dns.name.Name, Mapping[str, Any], list[RecordSetSpec]]:
    """(origin, zone settings fields, record sets) from the YAML records format:

    ```yaml
    zone: example.com.            # optional when the caller gives the origin
    ns: [ns1.example.com.]        # optional, default ns1.<zone>
    hostmaster: hostmaster.example.com.
    soa: {ttl: 3600, refresh: 3600, retry: 600, expire: 1209600, minimum: 60}
    records:
      - {name: www, type: A, ttl: 300, data: [192.0.2.1]}
      - name: api                 # grouped form, as DNSRecordSet objects hold it
        records: [{type: AAAA, ttl: 60, data: ["2001:db8::1"]}]
    ```

    A bare list at the top level is the `records` list.
    """
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER)  # the C loader: big zone files load ~4x faster
    except yaml.YAMLError as e:
        raise RecordFileError(f"not YAML: {e}") from e
    if doc is None:
        doc = {}
    if isinstance(doc, list):
        doc = {"records": doc}
    if not isinstance(doc, dict):
        raise RecordFileError("expected a mapping with `records`, or a list of record sets")
    zone_text = doc.get("zone")
    if origin is None:
        if not zone_text:
            raise RecordFileError("no zone: give `zone:` in the file or --zone")
        origin = dns.name.from_text(str(zone_text))
    settings: dict[str, Any] = {}
    if "ns" in doc:
        ns = doc["ns"]
        settings["ns_names"] = [ns] if isinstance(ns, str) else list(ns)
    if "hostmaster" in doc:
        settings["hostmaster"] = str(doc["hostmaster"])
    soa = doc.get("soa") or {}
    if not isinstance(soa, dict):
        raise RecordFileError("`soa` must be a mapping")
    for field_name in ("refresh", "retry", "expire", "minimum"):
        if field_name in soa:
            settings[field_name] = int(soa[field_name])
    if "ttl" in soa:
        settings["soa_ttl"] = int(soa["ttl"])
    if "ns_ttl" in doc:
        settings["ns_ttl"] = int(doc["ns_ttl"])
    records: list[RecordSetSpec] = []
    for i, item in enumerate(doc.get("records") or []):
        if not isinstance(item, dict) or "name" not in item:
            raise RecordFileError(f"records[{i}]: needs a name")
        groups = item.get("records", [item])
        for group in groups:
            try:
                data = group["data"]
                records.append(
                    RecordSetSpec(
                        name=str(item["name"]),
                        type=str(group["type"]),
                        ttl=int(group.get("ttl", 300)),
                        data=tuple(str(d) for d in ([data] if isinstance(data, str | int) else data)),
                    )
                )
            except (KeyError, TypeError, ValueError) as e:
                raise RecordFileError(f"records[{i}] ({item.get('name')}): {e!r}") from e
    return origin, settings, records


def settings_from_file_fields(origin: dns.name.Name, fields: Mapping[str, Any]) -> ZoneSettings:
    return ZoneSettings.for_origin(origin, **fields)


class FileZoneSource:
    """A zone read from a YAML records file (see parse_records_file), re-read when it changes.

    A file that fails to parse leaves the last good zone in service (and logs why).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        origin: str | dns.name.Name | None = None,
        settings: Mapping[str, Any] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self._origin = dns.name.from_text(origin) if isinstance(origin, str) else origin
        self._overrides = dict(settings or {})
        self._poll_interval = poll_interval
        self._builder: SnapshotBuilder | None = None
        self._digest: bytes | None = None

    def load(self) -> ZoneData | None:
        """Read the file; the new snapshot, or None when its content did not change."""
        raw = self.path.read_bytes()
        digest = hashlib.sha256(raw).digest()
        if digest == self._digest:
            return None
        origin, fields, records = parse_records_file(raw.decode(), origin=self._origin)
        settings = settings_from_file_fields(origin, {**fields, **self._overrides})
        if self._builder is None or self._builder.settings.origin != settings.origin:
            self._builder = SnapshotBuilder(settings, records)
            zone = self._builder.current
        else:
            if self._builder.settings != settings:
                self._builder.with_settings(settings)
            zone = self._builder.replace(records)
        self._digest = digest
        return zone

    async def snapshots(self) -> AsyncIterator[ZoneData]:
        first = True
        while True:
            try:
                zone = self.load()
            except (OSError, RecordFileError, ZoneDataError, ValueError) as e:
                if first:
                    raise
                logger.warning("event=records_file_invalid path=%s error=%r", self.path, str(e))
                zone = None
            first = False
            if zone is not None:
                yield zone
            await asyncio.sleep(self._poll_interval)


def specs(records: Sequence[tuple[str, str, int, Sequence[str]]]) -> list[RecordSetSpec]:
    """RecordSetSpecs from (name, type, ttl, data) tuples, for brevity in callers and tests."""
    return [RecordSetSpec(n, t, ttl, tuple(d)) for n, t, ttl, d in records]
