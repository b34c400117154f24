"""Upbit public REST market data: orderbook snapshots, tickers, KRW markets and the USDT/KRW rate.

Quotation responses carry JSON numbers; they become Decimal through str() (Upbit's own advice).
"""
from __future__ import annotations

import random
from decimal import Decimal

import orjson

from arbv2.adapters.feeds.rest import PublicRest
from arbv2.adapters.upbit.errors import map_error
from arbv2.core.errors import VenueError
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter

BUCKET = "upbit:query"
FX_MARKET = "KRW-USDT"

Levels = list[tuple[Decimal, Decimal]]


def _bad(what: str, body: bytes) -> VenueError:
    return VenueError(f"upbit: unexpected {what} response: {body[:200]!r}", venue="upbit")


def _dec(x: object) -> Decimal:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"not a number: {x!r}")
    return Decimal(str(x))


class UpbitRestProvider:
    """Public market-data reads; every call takes a token from the shared `upbit:query` bucket."""

    def __init__(self, base_url: str, *, clock: Clock, timeout_s: float = 5.0,
                 rate_limiter: RateLimiter | None = None, rng: random.Random | None = None) -> None:
        self.http = PublicRest("upbit", base_url, clock=clock, map_error=map_error, timeout_s=timeout_s,
                               rate_limiter=rate_limiter, rng=rng)

    async def orderbook_raw(self, codes: list[str]) -> bytes:
        """Return the raw GET /v1/orderbook body for these market codes."""
        return await self.http.get("/v1/orderbook", {"markets": ",".join(codes)}, bucket=BUCKET)

    async def orderbooks(self, codes: list[str]) -> dict[str, tuple[Levels, Levels]]:
        """Return {code: (bids best-first, asks best-first)} with Decimal prices and sizes."""
        body = await self.orderbook_raw(codes)
        try:
            out = {}
            for item in orjson.loads(body):
                units = item["orderbook_units"]
                bids = [(_dec(u["bid_price"]), _dec(u["bid_size"])) for u in units if u["bid_price"] > 0]
                asks = [(_dec(u["ask_price"]), _dec(u["ask_size"])) for u in units if u["ask_price"] > 0]
                out[item["market"]] = (bids, asks)
            return out
        except (ValueError, KeyError, TypeError):
            raise _bad("orderbook", body) from None

    async def tickers(self, codes: list[str]) -> dict[str, Decimal]:
        """Return {code: last trade price}."""
        body = await self.http.get("/v1/ticker", {"markets": ",".join(codes)}, bucket=BUCKET)
        try:
            return {t["market"]: _dec(t["trade_price"]) for t in orjson.loads(body)}
        except (ValueError, KeyError, TypeError):
            raise _bad("ticker", body) from None

    async def markets(self, quote: str = "KRW") -> list[str]:
        """Return the market codes quoted in `quote` ("KRW-BTC", ...)."""
        body = await self.http.get("/v1/market/all", bucket=BUCKET)
        try:
            return [m["market"] for m in orjson.loads(body) if m["market"].startswith(f"{quote}-")]
        except (ValueError, KeyError, TypeError):
            raise _bad("market/all", body) from None

    async def usdt_krw(self, code: str = FX_MARKET) -> float:
        """Return the USDT/KRW rate as the mid of the FX market's best bid and ask."""
        bids, asks = (await self.orderbooks([code]))[code]
        if not bids or not asks:
            raise _bad("orderbook (empty FX book)", code.encode())
        return float((bids[0][0] + asks[0][0]) / 2)

    async def close(self) -> None:
        await self.http.close()
