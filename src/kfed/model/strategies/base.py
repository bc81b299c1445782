"""What most kinds' strategies share: status-subresource handling, generation, table helpers."""

from __future__ import annotations

from typing import Any

from kfed.model.resource import Obj, Strategy, TableColumn

NAME_COLUMN = TableColumn("Name", format="name",
                          description="Name must be unique within a namespace. Is required when creating resources, "
                                      "although some resources may allow a client to request the generation of an "
                                      "appropriate name automatically. Name is primarily intended for creation "
                                      "idempotence and configuration definition. Cannot be updated. More info: "
                                      "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_COLUMN = TableColumn("Age", type="date",
                         description="CreationTimestamp is a timestamp representing the server time when this "
                                     "object was created. It is not guaranteed to be set in happens-before order "
                                     "across separate operations. Clients may not set this value. It is represented "
                                     "in RFC3339 form and is in UTC.")


class KindStrategy(Strategy):
    """A Strategy with kube-apiserver's common behaviours switched by class attributes.

    status_subresource: status is dropped on create, kept from the old object on update, and
        only status (and metadata) changes on /status, as kube-apiserver's strategies for kinds
        with a status subresource do.
    tracks_generation: whether the kind has metadata.generation at all. kube-apiserver sets it
        only for kinds whose strategies do (Deployment, EndpointSlice, custom resources, ...);
        Services, Namespaces, Secrets and friends have none.

    Ownership: the API layer hands prepare_for_update and prepare_for_status_update an `old` that is
    its own private decode of the stored object, only read from then on and dropped after the write.
    So old's containers move into `new` by reference instead of being deep-copied (the copies were a
    good part of a status write); nothing after these steps modifies what they carried over.
    """

    status_subresource: bool = False
    tracks_generation: bool = True

    def prepare_for_create(self, obj: Obj) -> None:
        if self.status_subresource:
            obj.pop("status", None)
        if not self.tracks_generation:
            meta(obj).pop("generation", None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.status_subresource:
            keep_old_status(new, old)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        keep_old_spec(new, old)

    def changes_generation(self, new: Obj, old: Obj) -> bool:
        return self.tracks_generation and super().changes_generation(new, old)


def meta(obj: Obj) -> dict[str, Any]:
    """obj["metadata"], created if absent (strategies run after the API layer checked the shape)."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def keep_old_status(new: Obj, old: Obj) -> None:
    if "status" in old:
        new["status"] = old["status"]  # shared, not copied: see KindStrategy (ownership)
    else:
        new.pop("status", None)


def keep_old_spec(new: Obj, old: Obj) -> None:
    """On /status: every top-level field but status and metadata comes from the old object.

    Metadata changes pass through, as with kube-apiserver (the API layer restores the system
    fields such as uid and creationTimestamp). old's values are shared, not copied: see
    KindStrategy (ownership). Being the very same objects also lets comparing new with old skip
    them at once.
    """
    for key in list(new):
        if key not in _STATUS_WRITE_KEYS:
            del new[key]
    for key, value in old.items():
        if key not in _STATUS_WRITE_KEYS:
            new[key] = value


#: the top-level fields a write to /status takes from the request (the rest stays as it was)
_STATUS_WRITE_KEYS = frozenset(("status", "metadata", "apiVersion", "kind"))


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int | None:
    """An integer field, or None when absent or of another type (the schema check reports those)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def spec(obj: Obj) -> dict[str, Any]:
    return as_dict(obj.get("spec"))


def status(obj: Obj) -> dict[str, Any]:
    return as_dict(obj.get("status"))


def creation_timestamp(obj: Obj) -> str:
    return as_str(as_dict(obj.get("metadata")).get("creationTimestamp"))


def name_of(obj: Obj) -> str:
    return as_str(as_dict(obj.get("metadata")).get("name"))


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted k=v pairs joined by ',', or <none>."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector as `kubectl get -o wide` shows a workload's selector."""
    sel = as_dict(selector)
    parts = [f"{k}={v}" for k, v in sorted(as_dict(sel.get("matchLabels")).items())]
    for expr in as_list(sel.get("matchExpressions")):
        e = as_dict(expr)
        key, op = as_str(e.get("key")), as_str(e.get("operator"))
        values = sorted(str(v) for v in as_list(e.get("values")))
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {op} {values}")
    text = ",".join(parts)
    return text or "<none>"


def with_more(items: list[str], total: int, maximum: int = 3, empty: str = "<unset>") -> str:
    """kubectl's `a,b,c + 2 more...` for long lists."""
    text = ",".join(items[:maximum])
    if total > maximum:
        return f"{text} + {total - maximum} more..."
    return text or empty


def condition(obj: Obj, cond_type: str) -> dict[str, Any] | None:
    for c in as_list(status(obj).get("conditions")):
        if isinstance(c, dict) and c.get("type") == cond_type:
            return c
    return None
