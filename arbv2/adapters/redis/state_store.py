"""RedisStateStore: engine state under `<prefix>state:` (mode, pause, kill switch, symbols, daily loss).

Documents are JSON strings without expiry, so they survive an engine restart (and a Redis
restart when Redis persists). Writes are single commands (atomic); read-modify-write uses
WATCH/MULTI and retries on a conflict, which keeps the daily loss counter exact in Decimal
across processes (INCRBYFLOAT would round through a double).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from arbv2.adapters.memory.state_store import encode_state
from arbv2.adapters.redis.connection import connect_redis, ping_redis

DAILY_LOSS_TTL_S = 8 * 86_400   # a week of history, then the counter of a past day goes away


class RedisStateStore:
    """StateStore on Redis; keys `<prefix>state:<key>`, `<prefix>state:daily_loss:<day>`."""

    def __init__(self, client: aioredis.Redis, prefix: str = "v2:", *, owns_client: bool = False) -> None:
        self._r = client
        self._ns = f"{prefix}state:"
        self._owns = owns_client

    @classmethod
    async def connect(cls, url: str, prefix: str = "v2:") -> "RedisStateStore":
        """Open a client on `url`, check it answers, and return a store that owns it."""
        client = connect_redis(url)
        try:
            await ping_redis(client)
        except BaseException:
            await client.aclose()
            raise
        return cls(client, prefix, owns_client=True)

    def key(self, key: str) -> str:
        return self._ns + key

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self._r.get(self.key(key))
        return None if raw is None else orjson.loads(raw)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        await self._r.set(self.key(key), encode_state(value))

    async def delete(self, key: str) -> None:
        await self._r.delete(self.key(key))

    async def _read_modify_write(self, key: str, change: Callable[[str | None], bytes | str],
                                 ttl_s: int | None = None) -> str:
        async with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    new = change(await pipe.get(key))
                    pipe.multi()
                    pipe.set(key, new, ex=ttl_s)
                    await pipe.execute()
                    return new.decode() if isinstance(new, bytes) else new
                except WatchError:
                    continue    # another writer got in between: read again

    async def update(self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Replace a document with change(current) atomically across processes; return it."""
        raw = await self._read_modify_write(
            self.key(key), lambda cur: encode_state(change(None if cur is None else orjson.loads(cur))))
        return orjson.loads(raw)

    async def add_daily_loss(self, day: str, amount_krw: Decimal) -> Decimal:
        if not isinstance(amount_krw, Decimal) or not amount_krw.is_finite():
            raise ValueError(f"amount_krw: must be a finite Decimal, got {amount_krw!r}")
        new = await self._read_modify_write(
            self.key(f"daily_loss:{day}"), lambda cur: str(Decimal(cur or 0) + amount_krw), DAILY_LOSS_TTL_S)
        return Decimal(new)

    async def daily_loss(self, day: str) -> Decimal:
        """Return a day's loss counter (0 when nothing was added)."""
        return Decimal(await self._r.get(self.key(f"daily_loss:{day}")) or 0)

    async def close(self) -> None:
        if self._owns:
            await self._r.aclose()
