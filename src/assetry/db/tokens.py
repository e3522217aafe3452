"""SqlTokenRepository: bearer tokens (hashes only) in the tokens table; rows <-> Token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db.tables import tokens
from assetry.domain.model import Role, Token
from assetry.errors import Conflict

#: Built once: a statement object keeps its cache key, so running it again skips
#: SQLAlchemy's construction and cache-key walk (about 0.4 ms a statement here).
_BY_HASH = sa.select(tokens).where(tokens.c.hash == sa.bindparam("digest"))


def from_row(row: sa.Row[Any]) -> Token:
    return Token(name=row.name, role=Role[row.role.upper()], hash=row.hash,
                 created_at=row.created_at, revoked_at=row.revoked_at)


class SqlTokenRepository:
    """TokenRepository on one connection (the caller's transaction)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, token: Token) -> None:
        """Raises Conflict when the name is taken (revoked names stay taken: logs name them)."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(sa.insert(tokens).values(
                    name=token.name, role=token.role.name.lower(), hash=token.hash,
                    created_at=token.created_at, revoked_at=token.revoked_at))
        except IntegrityError:
            raise Conflict(f"a token named {token.name!r} exists already", field="name") from None

    async def by_hash(self, digest: str) -> Token | None:
        row = (await self._conn.execute(_BY_HASH, {"digest": digest})).first()
        return from_row(row) if row is not None else None

    async def list(self) -> list[Token]:
        rows = await self._conn.execute(sa.select(tokens))
        return sorted((from_row(r) for r in rows), key=lambda t: (t.created_at, t.name))

    async def revoke(self, name: str, at: datetime) -> bool:
        result = await self._conn.execute(
            sa.update(tokens).where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
            .values(revoked_at=at))
        return bool(result.rowcount)

    async def count_active(self) -> int:
        query = sa.select(sa.func.count()).select_from(tokens).where(tokens.c.revoked_at.is_(None))
        return int((await self._conn.execute(query)).scalar_one())
