"""RedisMarketCache: top of book per venue+symbol as a hash `<prefix>market:<venue>:<symbol>`.

Each put replaces the whole hash and sets its PX TTL in one MULTI, so a reader sees either the
old or the new quote, never a mix, and a quote the engine stopped publishing disappears after
ttl_ms (the seed's 100 ms). Floats are written with repr() so they read back bit-exact.
"""
from __future__ import annotations

import redis.asyncio as aioredis

from arbv2.core.model import TopOfBook, Venue


class RedisMarketCache:
    """MarketCache on Redis, shared by every process that reads the market (dashboards, admin)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "v2:", ttl_ms: int = 100) -> None:
        if ttl_ms <= 0:
            raise ValueError(f"ttl_ms: must be > 0, got {ttl_ms}")
        self._r = redis
        self._ns = f"{prefix}market:"
        self._ttl_ms = int(ttl_ms)

    def key(self, venue: Venue, symbol: str) -> str:
        return f"{self._ns}{Venue(venue).value}:{symbol}"

    async def put_top(self, top: TopOfBook, premium: float | None = None) -> None:
        fields = {"bid": repr(top.bid), "bid_qty": repr(top.bid_qty), "ask": repr(top.ask),
                  "ask_qty": repr(top.ask_qty), "ts_ns": str(top.ts_ns)}
        if premium is not None:
            fields["premium"] = repr(float(premium))
        key = self.key(top.venue, top.symbol)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()

    async def _fields(self, venue: Venue, symbol: str) -> dict[str, str]:
        return await self._r.hgetall(self.key(venue, symbol))

    async def get_top(self, venue: Venue, symbol: str) -> TopOfBook | None:
        h = await self._fields(venue, symbol)
        if not h:
            return None
        return TopOfBook(venue=Venue(venue), symbol=symbol, bid=float(h["bid"]), bid_qty=float(h["bid_qty"]),
                         ask=float(h["ask"]), ask_qty=float(h["ask_qty"]), ts_ns=int(h["ts_ns"]))

    async def get_premium(self, venue: Venue, symbol: str) -> float | None:
        """Return the premium published with the top of book, or None when absent or expired."""
        value = await self._r.hget(self.key(venue, symbol), "premium")
        return None if value is None else float(value)
