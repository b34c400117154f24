"""Binance USDⓈ-M public REST market data: depth snapshots, book ticker, premium index, markets."""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

import orjson

from arbv2.adapters.binance.errors import map_error
from arbv2.adapters.feeds.rest import PublicRest
from arbv2.core.errors import VenueError
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter

BUCKET = "binance:weight"
DEPTH_LIMITS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}   # limit -> request weight


@dataclass(frozen=True, slots=True)
class PremiumIndex:
    """Mark/index price and funding of one perpetual (GET /fapi/v1/premiumIndex)."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    last_funding_rate: Decimal
    next_funding_time_ms: int
    time_ms: int


def _bad(what: str, body: bytes) -> VenueError:
    return VenueError(f"binance_usdm: unexpected {what} response: {body[:200]!r}", venue="binance_usdm")


class BinanceRestProvider:
    """Public market-data reads; every call weighed against the shared `binance:weight` bucket."""

    def __init__(self, base_url: str, *, clock: Clock, timeout_s: float = 5.0,
                 rate_limiter: RateLimiter | None = None, rng: random.Random | None = None) -> None:
        self.http = PublicRest("binance_usdm", base_url, clock=clock, map_error=map_error, timeout_s=timeout_s,
                               rate_limiter=rate_limiter, rng=rng)

    async def depth(self, code: str, limit: int = 1000) -> bytes:
        """Return the raw /fapi/v1/depth body (decoded by the compiled decoder, kept by the recorder)."""
        if limit not in DEPTH_LIMITS:
            raise ValueError(f"limit: must be one of {sorted(DEPTH_LIMITS)}, got {limit}")
        return await self.http.get("/fapi/v1/depth", {"symbol": code, "limit": limit}, bucket=BUCKET,
                                   weight=DEPTH_LIMITS[limit])

    async def book_ticker(self, code: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """Return (bid, bid_qty, ask, ask_qty) of one symbol."""
        body = await self.http.get("/fapi/v1/ticker/bookTicker", {"symbol": code}, bucket=BUCKET, weight=1)
        try:
            d = orjson.loads(body)
            return (Decimal(d["bidPrice"]), Decimal(d["bidQty"]), Decimal(d["askPrice"]), Decimal(d["askQty"]))
        except (ValueError, KeyError, TypeError, ArithmeticError):
            raise _bad("bookTicker", body) from None

    async def premium_index(self, code: str) -> PremiumIndex:
        """Return mark price and funding of one symbol."""
        body = await self.http.get("/fapi/v1/premiumIndex", {"symbol": code}, bucket=BUCKET, weight=1)
        try:
            d = orjson.loads(body)
            return PremiumIndex(symbol=d["symbol"], mark_price=Decimal(d["markPrice"]),
                                index_price=Decimal(d["indexPrice"]),
                                last_funding_rate=Decimal(d["lastFundingRate"]),
                                next_funding_time_ms=int(d["nextFundingTime"]), time_ms=int(d["time"]))
        except (ValueError, KeyError, TypeError, ArithmeticError):
            raise _bad("premiumIndex", body) from None

    async def markets(self) -> list[str]:
        """Return the USDT-margined perpetuals currently trading ("BTCUSDT", ...)."""
        body = await self.http.get("/fapi/v1/exchangeInfo", bucket=BUCKET, weight=1)
        try:
            return [s["symbol"] for s in orjson.loads(body)["symbols"]
                    if s.get("contractType") == "PERPETUAL" and s.get("status") == "TRADING"
                    and s.get("quoteAsset") == "USDT"]
        except (ValueError, KeyError, TypeError):
            raise _bad("exchangeInfo", body) from None

    async def close(self) -> None:
        await self.http.close()
