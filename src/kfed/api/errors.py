"""API errors as metav1.Status, with kube-apiserver's reasons and messages."""

from __future__ import annotations

from typing import Any

from kfed.model.resource import FieldCause, ResourceType


class ApiError(Exception):
    """An error the API answers with a metav1.Status body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _qualified(rt: ResourceType) -> str:
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


def _details(rt: ResourceType, name: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    d.update(extra)
    return d


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(rt)} "{name}" not found', details=_details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(rt)} "{name}" already exists', details=_details(rt, name))


def conflict(rt: ResourceType, name: str, why: str) -> ApiError:
    msg = f'Operation cannot be fulfilled on {_qualified(rt)} "{name}": {why}'
    return ApiError(409, "Conflict", msg, details=_details(rt, name))


def stale_object(rt: ResourceType, name: str) -> ApiError:
    return conflict(rt, name, "the object has been modified; please apply your changes to the latest version and try again")


def invalid(rt: ResourceType, name: str, causes: list[FieldCause]) -> ApiError:
    kind = rt.kind
    qualified_kind = f"{kind}.{rt.group}" if rt.group else kind
    rendered = [c.render() for c in causes]
    msg = f'{qualified_kind} "{name}" is invalid: '
    msg += rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [
        {"reason": str(c.type), "message": c.render().split(": ", 1)[1] if ": " in c.render() else c.message,
         "field": c.field} for c in causes]}
    if rt.group:
        details["group"] = rt.group
    return ApiError(422, "Invalid", msg, details=details)


def bad_request(message: str, causes: list[dict[str, str]] | None = None) -> ApiError:
    return ApiError(400, "BadRequest", message, details={"causes": causes} if causes else None)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, resource: str, group: str, namespace: str | None, name: str | None = None) -> ApiError:
    what = f'{resource} "{name}"' if name else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    grp = f'in API group "{group}"'
    msg = f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" {grp}{where}'
    return ApiError(403, "Forbidden", msg, details={"name": name or "", "group": group, "kind": resource})


def too_large() -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def unsupported_media_type(ct: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml (got {ct})")


def not_acceptable(accept: str) -> ApiError:
    return ApiError(406, "NotAcceptable", f"only the following media types are accepted: application/json, application/yaml (got {accept})")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
