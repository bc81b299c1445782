"""The errors the patch engines raise, carrying what the API layer needs to answer like kube-apiserver."""

from __future__ import annotations

import json
from typing import Any

from kfed.model.resource import Obj


class PatchError(Exception):
    """A patch that can't be applied.

    `status` is the HTTP code kube-apiserver answers with: 400 for a patch body that is malformed
    (not a JSON list/object, a directive of the wrong shape), 422 for a well-formed patch that does
    not apply to this object (a failed `test` op, a path that does not exist, a missing merge key).
    """

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def reason(self) -> str:
        """The metav1.StatusReason that goes with `status`."""
        return "BadRequest" if self.status == 400 else "Invalid"


class ApplyConflict(Exception):
    """Server-side apply would change fields another field manager owns (HTTP 409).

    `conflicts` lists (manager, field path) with the path as kube prints it, e.g.
    `.spec.ports[port=80,protocol="TCP"].targetPort`; `message` is kube-apiserver's sentence.
    """

    status = 409
    reason = "Conflict"

    def __init__(self, details: list[tuple[str, str, str]]) -> None:
        # details: (manager identifier JSON, manager as printed, path); sorted by the caller
        self._details = details
        self.conflicts: list[tuple[str, str]] = [(_manager_name(ident), path) for ident, _, path in details]
        self.message = _conflict_message(details)
        super().__init__(self.message)

    def causes(self) -> list[Obj]:
        """metav1.StatusCause entries, one per conflicting field, as kube-apiserver sends them
        (the cause type travels in the JSON key `reason`)."""
        return [{"reason": "FieldManagerConflict", "message": f"conflict with {printed}", "field": path}
                for _, printed, path in self._details]


def _manager_name(identifier: str) -> str:
    try:
        decoded: Any = json.loads(identifier)
        return str(decoded.get("manager", identifier))
    except (ValueError, AttributeError):
        return identifier


def _conflict_message(details: list[tuple[str, str, str]]) -> str:
    # Same wording and grouping as apimachinery's fieldmanager conflict error.
    if len(details) == 1:
        _, printed, path = details[0]
        return f"Apply failed with 1 conflict: conflict with {printed}: {path}"
    by_manager: dict[str, list[str]] = {}
    printed_of: dict[str, str] = {}
    for ident, printed, path in details:
        by_manager.setdefault(ident, []).append(path)
        printed_of[ident] = printed
    lines: list[str] = []
    for ident in sorted(by_manager):
        lines.append(f"conflicts with {printed_of[ident]}:")
        lines.extend(f"- {path}" for path in by_manager[ident])
    return f"Apply failed with {len(details)} conflicts: " + "\n".join(lines)
