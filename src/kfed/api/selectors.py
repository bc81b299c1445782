"""Label and field selectors, parsed as kube-apiserver parses them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Requirement = Callable[[Mapping[str, str]], bool]


class SelectorError(ValueError):
    pass


_SET_RE = re.compile(r"^\s*(!)?\s*([A-Za-z0-9._/-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=|>|<)\s*([A-Za-z0-9._-]*)\s*$")


def _eq(k: str, v: str) -> Requirement:
    return lambda lb: lb.get(k) == v


def _ne(k: str, v: str) -> Requirement:
    return lambda lb: lb.get(k) != v


def _in(k: str, vs: frozenset[str]) -> Requirement:
    return lambda lb: lb.get(k) in vs


def _notin(k: str, vs: frozenset[str]) -> Requirement:
    return lambda lb: lb.get(k) not in vs


def _exists(k: str) -> Requirement:
    return lambda lb: k in lb


def _absent(k: str) -> Requirement:
    return lambda lb: k not in lb


def _compare(k: str, n: int, greater: bool) -> Requirement:
    def check(lb: Mapping[str, str]) -> bool:
        v = lb.get(k)
        if v is None or not v.lstrip("-").isdigit():
            return False
        return int(v) > n if greater else int(v) < n

    return check


def _split_top(s: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


@dataclass(frozen=True)
class LabelSelector:
    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def parse_label_selector(text: str | None) -> LabelSelector:
    text = (text or "").strip()
    reqs: list[Requirement] = []
    for part in _split_top(text):
        m = _CMP_RE.match(part)
        if m:
            key, op, value = m.groups()
            if op in ("=", "=="):
                reqs.append(_eq(key, value))
            elif op == "!=":
                reqs.append(_ne(key, value))
            else:
                try:
                    num = int(value)
                except ValueError as e:
                    raise SelectorError(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {part}") from e
                reqs.append(_compare(key, num, op == ">"))
            continue
        m = _SET_RE.match(part)
        if not m:
            raise SelectorError(f"unable to parse requirement: {part!r}")
        neg, key, op, values = m.groups()
        if op:
            if neg:
                raise SelectorError(f"unable to parse requirement: {part!r}")
            vals = frozenset(v.strip() for v in values.split(",") if v.strip())
            reqs.append(_in(key, vals) if op == "in" else _notin(key, vals))
        elif neg:
            reqs.append(_absent(key))
        else:
            reqs.append(_exists(key))
    return LabelSelector(text, tuple(reqs))


def selector_from_match_labels(match_labels: Mapping[str, str] | None) -> LabelSelector:
    items = dict(match_labels or {})
    return LabelSelector(
        ",".join(f"{k}={v}" for k, v in sorted(items.items())),
        tuple(_eq(k, v) for k, v in items.items()),
    )


def label_selector_from_spec(spec: Mapping | None) -> LabelSelector | None:
    """A metav1.LabelSelector (matchLabels + matchExpressions). None selects nothing."""
    if spec is None:
        return None
    reqs: list[Requirement] = []
    for k, v in (spec.get("matchLabels") or {}).items():
        reqs.append(_eq(str(k), str(v)))
    for expr in spec.get("matchExpressions") or []:
        key, op, vals = str(expr.get("key")), expr.get("operator"), frozenset(expr.get("values") or [])
        if op == "In":
            reqs.append(_in(key, vals))
        elif op == "NotIn":
            reqs.append(_notin(key, vals))
        elif op == "Exists":
            reqs.append(_exists(key))
        elif op == "DoesNotExist":
            reqs.append(_absent(key))
    return LabelSelector("", tuple(reqs))


@dataclass(frozen=True)
class FieldSelector:
    text: str
    terms: tuple[tuple[str, bool, str], ...]  # (field, equal?, value)

    def fields(self) -> set[str]:
        return {f for f, _, _ in self.terms}

    def matches(self, values: Mapping[str, str]) -> bool:
        for field, equal, value in self.terms:
            actual = values.get(field, "")
            if (actual == value) != equal:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.terms


def parse_field_selector(text: str | None) -> FieldSelector:
    text = (text or "").strip()
    terms: list[tuple[str, bool, str]] = []
    for part in [p for p in text.split(",") if p.strip()]:
        for op, equal in (("!=", False), ("==", True), ("=", True)):
            if op in part:
                field, value = part.split(op, 1)
                terms.append((field.strip(), equal, value.strip()))
                break
        else:
            raise SelectorError(f"invalid selector: '{part}'; can't understand '{part}'")
    return FieldSelector(text, tuple(terms))
