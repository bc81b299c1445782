"""Sets of field paths, as server-side apply records who owns what (structured-merge-diff's Set).

A path is a tuple of path elements. A path element is kept in its FieldsV1 spelling, which is
canonical and hashable:

- `f:<name>`       a field of an object (`f:spec`, `f:app` of labels),
- `k:<json>`       an item of a list-map by its key fields (`k:{"port":80,"protocol":"TCP"}`,
                   key fields sorted by name),
- `v:<json>`       an item of a set by its value (`v:"foregroundDeletion"`),
- `i:<index>`      an item of a list by position.

A FieldSet node has `members` (path elements that are themselves in the set) and `children` (the
sets under a path element). In FieldsV1 JSON a member with children is written with a `.` key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from kfed.api.patch.json_values import go_json, go_value_string
from kfed.model.resource import Obj

Path = tuple[str, ...]


def field_pe(name: str) -> str:
    return "f:" + name


def key_pe(keys: dict[str, Any]) -> str:
    items = sorted(keys.items())  # by name: names are distinct, so values are never compared
    for _, value in items:
        kind = type(value)
        if kind is not str and kind is not int:
            return "k:" + go_json(dict(items))
    return _scalar_key_pe(tuple(items))


@lru_cache(maxsize=8192)
def _scalar_key_pe(items: tuple[tuple[str, Any], ...]) -> str:
    # Remembered for string and integer keys only: equal ones of those always encode alike (True
    # == 1 and 0.0 == -0.0 would not). Every write of a list-map item asks for its key again.
    return "k:" + go_json(dict(items))


def value_pe(value: Any) -> str:
    return "v:" + go_json(value, sort_keys=True)


def index_pe(index: int) -> str:
    return "i:" + str(index)


class FieldSet:
    """A set of paths. Build with `insert`; the set operations return new sets."""

    __slots__ = ("members", "children")

    def __init__(self, members: set[str] | None = None, children: dict[str, FieldSet] | None = None) -> None:
        self.members: set[str] = members if members is not None else set()
        # invariant: no child set is empty
        self.children: dict[str, FieldSet] = children if children is not None else {}

    # --- building and asking -------------------------------------------------------------------

    @classmethod
    def from_paths(cls, paths: Sequence[Sequence[str]]) -> FieldSet:
        out = cls()
        for path in paths:
            out.insert(path)
        return out

    def insert(self, path: Sequence[str]) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        node.members.add(path[-1])

    def has(self, path: Sequence[str]) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            assert node is not None
            node = node.children.get(pe)
            if node is None:
                return False
        assert node is not None
        return path[-1] in node.members

    def child(self, pe: str) -> FieldSet | None:
        return self.children.get(pe)

    def empty(self) -> bool:
        return not self.members and not self.children

    def __bool__(self) -> bool:
        return not self.empty()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.members == other.members and self.children == other.children

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __len__(self) -> int:
        """The number of paths in the set."""
        return len(self.members) + sum(len(c) for c in self.children.values())

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self.paths()]})"

    def copy(self) -> FieldSet:
        return FieldSet(set(self.members), {pe: c.copy() for pe, c in self.children.items()})

    def paths(self) -> Iterator[Path]:
        """Every path in the set, in structured-merge-diff's order (a level's members, then its children)."""
        for pe in sorted(self.members, key=pe_sort_key):
            yield (pe,)
        for pe in sorted(self.children, key=pe_sort_key):
            for rest in self.children[pe].paths():
                yield (pe, *rest)

    # --- set algebra ---------------------------------------------------------------------------

    def union(self, other: FieldSet) -> FieldSet:
        children = {pe: c.copy() for pe, c in self.children.items()}
        for pe, c in other.children.items():
            mine = children.get(pe)
            children[pe] = mine.union(c) if mine is not None else c.copy()
        return FieldSet(self.members | other.members, children)

    def add_all(self, other: FieldSet, *, take: bool = False) -> None:
        """In place: `union`, for a set nobody else holds. With `take`, other's nodes move into
        self rather than being copied (other must not be used afterwards)."""
        if other.members:
            self.members |= other.members
        children = self.children
        for pe, theirs in other.children.items():
            mine = children.get(pe)
            if mine is None:
                children[pe] = theirs if take else theirs.copy()
            else:
                mine.add_all(theirs, take=take)

    def difference(self, other: FieldSet | None) -> FieldSet:
        """Paths in self and not in other (a member of other removes that path only)."""
        if other is None or other.empty():
            return self.copy()
        children: dict[str, FieldSet] = {}
        for pe, c in self.children.items():
            theirs = other.children.get(pe)
            rest = c.difference(theirs) if theirs is not None else c.copy()
            if rest:
                children[pe] = rest
        return FieldSet(self.members - other.members, children)

    def recursive_difference(self, other: FieldSet | None) -> FieldSet:
        """Like difference, but a member of other also removes every path under it."""
        if other is None or other.empty():
            return self.copy()
        children: dict[str, FieldSet] = {}
        for pe, c in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            rest = c.recursive_difference(theirs) if theirs is not None else c.copy()
            if rest:
                children[pe] = rest
        return FieldSet(self.members - other.members, children)

    def remove(self, other: FieldSet) -> None:
        """In place: `difference`, for a set nobody else holds (saves copying it)."""
        if other.members and self.members:
            self.members -= other.members
        for pe, theirs in other.children.items():
            mine = self.children.get(pe)
            if mine is not None:
                mine.remove(theirs)
                if not mine:
                    del self.children[pe]

    def remove_recursive(self, other: FieldSet) -> None:
        """In place: `recursive_difference`, for a set nobody else holds."""
        if other.members:
            if self.members:
                self.members -= other.members
            for pe in other.members:
                self.children.pop(pe, None)
        for pe, theirs in other.children.items():
            mine = self.children.get(pe)
            if mine is not None:
                mine.remove_recursive(theirs)
                if not mine:
                    del self.children[pe]

    def intersects(self, other: FieldSet) -> bool:
        """Whether self and other share a path (then difference(other) would drop something)."""
        if other.members and self.members and not self.members.isdisjoint(other.members):
            return True
        mine = self.children
        if not mine:
            return False
        for pe, theirs in other.children.items():
            child = mine.get(pe)
            if child is not None and child.intersects(theirs):
                return True
        return False

    def intersection(self, other: FieldSet | None) -> FieldSet:
        if other is None:
            return FieldSet()
        children: dict[str, FieldSet] = {}
        for pe, c in self.children.items():
            theirs = other.children.get(pe)
            if theirs is not None:
                common = c.intersection(theirs)
                if common:
                    children[pe] = common
        return FieldSet(self.members & other.members, children)

    # --- FieldsV1 ------------------------------------------------------------------------------

    def to_fields_v1(self) -> Obj:
        """The FieldsV1 JSON object (`{"f:spec": {"f:ports": {...}}}`), keys in kube's order."""
        out: Obj = {}
        members, children = self.members, self.children
        for pe in sorted_pes(members | children.keys() if children else members):
            child = children.get(pe)
            if child is None:
                out[pe] = {}
                continue
            node: Obj = {".": {}} if pe in members else {}
            node.update(child.to_fields_v1())
            out[pe] = node
        return out

    @classmethod
    def from_fields_v1(cls, data: Any) -> FieldSet:
        """Parse a FieldsV1 object; ValueError when it is not one."""
        return cls.parse_fields_v1(data)[0]

    @classmethod
    def parse_fields_v1(cls, data: Any) -> tuple[FieldSet, bool]:
        """from_fields_v1, and whether `data` is exactly what to_fields_v1 writes for the result
        (canonical path elements, kube's order, `.` only first and only where needed): then the
        same dict can stand for the set when it is written back unchanged."""
        if not isinstance(data, dict):
            raise ValueError("FieldsV1 must be a JSON object")
        return _parse_fields_v1(data, "." not in data)


def _parse_fields_v1(data: Obj, canonical: bool) -> tuple[FieldSet, bool]:
    """FieldSet.parse_fields_v1 of one node; `canonical` says whether its `.` (if any) was fine."""
    out = FieldSet()
    members, children = out.members, out.children
    previous: str | None = None
    for key, value in data.items():
        if key == ".":
            continue
        if type(value) is not dict and not isinstance(value, dict):
            raise ValueError(f"FieldsV1 entry {key!r} must be an object")
        pe = canonical_pe(key)
        if canonical:
            if pe != key or (previous is not None and not _in_order(previous, key)):
                canonical = False
            previous = key
        if not value:
            members.add(pe)
            continue
        if "." in value:
            members.add(pe)
            # canonical: `.` first and `{}` (to_fields_v1 writes it so) with entries after it
            child, child_canonical = _parse_fields_v1(
                value, canonical and next(iter(value)) == "." and value["."] == {} and len(value) > 1)
        else:
            child, child_canonical = _parse_fields_v1(value, canonical)
        if child:
            children[pe] = child
        canonical = child_canonical
    return out, canonical


@lru_cache(maxsize=8192)
def canonical_pe(pe: str) -> str:
    """The canonical spelling of a path element read from FieldsV1; ValueError when invalid."""
    kind, sep, body = pe.partition(":")
    if not sep:
        raise ValueError(f"invalid path element {pe!r}")
    if kind == "f":
        return pe
    if kind == "i":
        return index_pe(int(body))
    try:
        decoded = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"invalid path element {pe!r}: {exc}") from None
    if kind == "k":
        if not isinstance(decoded, dict):
            raise ValueError(f"invalid key path element {pe!r}")
        return key_pe(decoded)
    if kind == "v":
        return value_pe(decoded)
    raise ValueError(f"invalid path element {pe!r}")


def _in_order(before: str, after: str) -> bool:
    """Whether two distinct canonical path elements come in sorted_pes order."""
    if before[0] == "f" and after[0] == "f":
        return before < after
    return pe_sort_key(before) < pe_sort_key(after)


def sorted_pes(pes: Iterable[str]) -> list[str]:
    """sorted(pes, key=pe_sort_key), by plain string order where that is the same thing.

    Field elements (`f:...`) sort by name, which is their string order; and in string order
    `f:` comes before `i:`, `k:` and `v:`, so a last element that is a field means all are.
    """
    ordered = sorted(pes)
    if ordered and ordered[-1][0] != "f":
        ordered.sort(key=pe_sort_key)
    return ordered


@lru_cache(maxsize=8192)
def pe_sort_key(pe: str) -> tuple[Any, ...]:
    """structured-merge-diff's PathElement order: fields, then keys, then values, then indexes."""
    kind, _, body = pe.partition(":")
    if kind == "f":
        return (0, body)
    if kind == "k":
        decoded = json.loads(body)
        return (1, tuple((name, _value_sort_key(decoded[name])) for name in sorted(decoded)))
    if kind == "v":
        return (2, _value_sort_key(json.loads(body)))
    return (3, int(body))


def _value_sort_key(value: Any) -> tuple[Any, ...]:
    # value.Compare: numbers < strings < booleans < lists < maps < null
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, go_json(value))
    if isinstance(value, dict):
        return (4, go_json(value, sort_keys=True))
    return (5,)


@lru_cache(maxsize=8192)
def pe_string(pe: str) -> str:
    """A path element as kube prints it in conflict messages: `.spec`, `[port=80,protocol="TCP"]`."""
    kind, _, body = pe.partition(":")
    if kind == "f":
        return "." + body
    if kind == "k":
        decoded = json.loads(body)
        return "[" + ",".join(f"{name}={go_value_string(decoded[name])}" for name in decoded) + "]"
    if kind == "v":
        return "[=" + go_value_string(json.loads(body)) + "]"
    return "[" + body + "]"


def path_string(path: Sequence[str]) -> str:
    return "".join(pe_string(pe) for pe in path)
