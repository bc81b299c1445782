"""What the API machinery needs to know about one kind: its names, its schema and its strategy.

A `ResourceType` is plain data; a `Strategy` holds the kind's pure behaviour (defaulting,
validation, table rows, field selectors). The API layer (kfed.api) serves any list of
ResourceTypes, so the federation API server and every simulated member cluster share one
implementation and differ only in the kinds they register.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Obj = dict[str, Any]


class CauseType(StrEnum):
    """metav1.CauseType values used in 422 Invalid responses (as kube-apiserver sends them)."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    DUPLICATE = "FieldValueDuplicate"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    TYPE_INVALID = "FieldValueTypeInvalid"
    UNKNOWN_FIELD = "FieldValueUnknownField"


@dataclass(frozen=True)
class FieldCause:
    """One field error. `field` is the path as Kubernetes prints it: `spec.ports[0].port`."""

    type: CauseType
    field: str
    message: str
    value: Any = None

    def render(self) -> str:
        """The sentence kube-apiserver puts in the Status message for this cause."""
        detail = self.message
        if self.type is CauseType.REQUIRED:
            return f"{self.field}: Required value" + (f": {detail}" if detail else "")
        if self.type in (CauseType.INVALID, CauseType.TYPE_INVALID):
            return f"{self.field}: Invalid value: {_go_quote(self.value)}: {detail}"
        if self.type is CauseType.NOT_SUPPORTED:
            return f"{self.field}: Unsupported value: {_go_quote(self.value)}" + (f": {detail}" if detail else "")
        if self.type is CauseType.DUPLICATE:
            return f"{self.field}: Duplicate value: {_go_quote(self.value)}"
        if self.type is CauseType.FORBIDDEN:
            return f"{self.field}: Forbidden: {detail}"
        if self.type is CauseType.TOO_LONG:
            return f"{self.field}: Too long: {detail}"
        return f"{self.field}: {detail}"


def _go_quote(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class TableColumn:
    """metav1.TableColumnDefinition. priority 0 shows by default, 1 only with `-o wide`."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def to_dict(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


class Strategy:
    """The pure behaviour of one kind. Subclasses override what their kind needs.

    Every method is pure: it looks only at its arguments and may mutate the object it is
    given (defaulting, preparing) but does no I/O. The API layer calls, in order:
    create:  default -> prepare_for_create -> validate
    update:  default -> prepare_for_update -> validate -> validate_update
    status:  prepare_for_status_update -> validate_status_update
    """

    def default(self, obj: Obj) -> None:
        """Fill in defaults in place, as kube-apiserver's defaulting does."""

    def prepare_for_create(self, obj: Obj) -> None:
        """Drop what a client may not set on create (status of kinds with a status subresource)."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """On the main resource: keep the old status for kinds with a status subresource."""

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """On /status: keep everything but status (and metadata changes allowed there)."""

    def validate(self, obj: Obj) -> list[FieldCause]:
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        return []

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        """A write to /status: everything but status and metadata is old's, checked when written.
        By default the whole object is checked again; a kind may check only its status."""
        return self.validate(new) + self.validate_update(new, old)

    def table_columns(self) -> list[TableColumn]:
        return [TableColumn("Name", format="name", description="Name of the object"),
                TableColumn("Age", type="date", description="Time since creation")]

    def table_row(self, obj: Obj) -> list[Any]:
        """Cells in the order of table_columns(); a date column gets the RFC 3339 timestamp string."""
        meta = obj.get("metadata", {})
        return [meta.get("name", ""), meta.get("creationTimestamp", "")]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """Field selector values beyond metadata.name and metadata.namespace (which are always there)."""
        return {}

    def changes_generation(self, new: Obj, old: Obj) -> bool:
        """Whether an update bumps metadata.generation: anything but metadata and status changed."""
        strip = ("metadata", "status", "apiVersion", "kind")
        return {k: v for k, v in new.items() if k not in strip} != {k: v for k, v in old.items() if k not in strip}


@dataclass(frozen=True)
class ResourceType:
    """One served resource: `services` in core/v1, `clusters` in federation.kfed.io/v1beta1, ..."""

    group: str  # "" for the core (legacy) group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    schema: Obj  # OpenAPI v3 schema of the whole object, with descriptions
    strategy: Strategy = field(default_factory=Strategy)
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()  # e.g. {"status"}
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def storage_prefix(self) -> str:
        """Key prefix in the store; the group keeps kinds of equal plural in different groups apart."""
        return f"/registry/{self.group or 'core'}/{self.plural}/"

    def storage_key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix()}{namespace}/{name}"
        return f"{self.storage_prefix()}{name}"

    def new_object(self) -> Obj:
        return {"apiVersion": self.group_version, "kind": self.kind, "metadata": {}}


def deep_copy(obj: Obj) -> Obj:
    return copy.deepcopy(obj)
