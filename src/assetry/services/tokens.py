"""Bearer tokens: created with a role, stored only as hashes, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from assetry.domain.model import Actor, Role, Token
from assetry.domain.ports import Database
from assetry.errors import Invalid, NotFound, Unauthenticated
from assetry.services.ingest import now

NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
PREFIX = "ast_"


def digest(secret: str) -> str:
    """SHA-256 of the token. Tokens carry 256 random bits, so a fast hash is enough: there
    is nothing to brute-force that a slow hash would protect."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, role: str, name: str | None = None) -> tuple[Token, str]:
        """A new token and its secret, which is shown once and never stored.
        Raises Invalid (bad role or name), Conflict (name taken)."""
        try:
            parsed = Role[role.upper()]
        except KeyError:
            roles = ", ".join(r.name.lower() for r in Role)
            raise Invalid(f"role must be one of {roles}", field="role") from None
        name = name or f"{parsed.name.lower()}-{secrets.token_hex(3)}"
        if not NAME_RE.match(name):
            raise Invalid("token names are 1-64 of A-Z a-z 0-9 _ . @ -", field="name")
        secret = PREFIX + secrets.token_urlsafe(32)
        token = Token(name=name, role=parsed, hash=digest(secret), created_at=now())
        async with self._db.transaction() as tx:
            await tx.tokens.add(token)
        return token, secret

    async def list(self) -> list[Token]:
        async with self._db.transaction(write=False) as tx:
            return await tx.tokens.list()

    async def revoke(self, name: str) -> None:
        """Raises NotFound when no active token has this name."""
        async with self._db.transaction() as tx:
            if not await tx.tokens.revoke(name, now()):
                raise NotFound(f"no active token named {name!r}")

    async def authenticate(self, secret: str) -> Actor:
        """The actor a bearer token stands for. Raises Unauthenticated for an unknown or
        revoked token (the same answer for both, so names cannot be probed)."""
        wanted = digest(secret)
        async with self._db.transaction(write=False) as tx:
            token = await tx.tokens.by_hash(wanted)
        if token is None or token.revoked_at is not None or not hmac.compare_digest(
            token.hash, wanted
        ):
            raise Unauthenticated("the token is unknown or revoked")
        return Actor(name=token.name, role=token.role)

    async def any_active(self) -> bool:
        async with self._db.transaction(write=False) as tx:
            return await tx.tokens.count_active() > 0
