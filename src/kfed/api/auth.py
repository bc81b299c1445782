"""Authentication (bearer tokens, client certificates) and a two-role authorizer."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # every verb
    READER = "reader"  # get, list, watch


READ_VERBS = frozenset({"get", "list", "watch"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    role: Role

    def may(self, verb: str) -> bool:
        return self.role is Role.ADMIN or verb in READ_VERBS


class TokenAuthenticator:
    """Bearer tokens compared in constant time. Client-certificate users map by common name."""

    def __init__(self, tokens: dict[str, User], cert_users: dict[str, User] | None = None) -> None:
        self._tokens = [(t.encode(), u) for t, u in tokens.items()]
        self._cert_users = cert_users or {}
        self.revoked = False  # fault injection: every credential rejected

    def replace_tokens(self, tokens: dict[str, User]) -> None:
        self._tokens = [(t.encode(), u) for t, u in tokens.items()]

    def from_token(self, token: str) -> User | None:
        if self.revoked:
            return None
        given = token.encode()
        found = None
        for expected, user in self._tokens:
            if hmac.compare_digest(given, expected):
                found = user
        return found

    def from_certificate_cn(self, cn: str | None) -> User | None:
        if self.revoked:
            return None
        return self._cert_users.get(cn or "")
