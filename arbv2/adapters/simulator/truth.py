"""Ground truth for tests: the simulator's exact books, orders, fills, balances, positions and income,
as a Python API (`sim.truth`) and as admin endpoints under /_sim/ on both ports.
"""
from __future__ import annotations

from decimal import Decimal

import orjson
from aiohttp import web

from arbv2.adapters.simulator.book import ASK, BID
from arbv2.adapters.simulator.faults import FaultPlan

ZERO = Decimal(0)


class Truth:
    """Read the simulator's state exactly (Decimals, no rounding)."""

    def __init__(self, sim) -> None:
        self._sim = sim

    def _books(self, venue: str):
        if venue == "upbit":
            return self._sim.upbit.books
        if venue == "binance_usdm":
            return self._sim.binance.books
        raise ValueError(f"unknown venue {venue!r}")

    def book(self, venue: str, code: str, depth: int = 20) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Return (bids best-first, asks best-first) of `code` on `venue`, `depth` levels each."""
        book = self._books(venue)[code]
        return book.top(BID, depth), book.top(ASK, depth)

    def orders(self, venue: str) -> list[dict]:
        """Return every order the venue accepted (current state) or rejected."""
        if venue == "upbit":
            out = [{"venue": "upbit", "api_key": o.api_key, "uuid": o.uuid, "identifier": o.identifier,
                    "client_order_id": o.identifier, "market": o.market, "side": o.side, "ord_type": o.ord_type,
                    "price": o.price, "volume": o.volume, "status": o.state, "executed_qty": o.executed_volume,
                    "executed_funds": o.executed_funds, "paid_fee": o.paid_fee, "ts": o.ts_ms}
                   for o in self._sim.upbit.orders.values()]
            return out + list(self._sim.upbit.rejected)
        if venue == "binance_usdm":
            out = [{"venue": "binance_usdm", "api_key": o.api_key, "order_id": o.order_id,
                    "client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side, "type": o.type,
                    "time_in_force": o.time_in_force, "price": o.price, "orig_qty": o.orig_qty,
                    "reduce_only": o.reduce_only, "status": o.status, "executed_qty": o.executed_qty,
                    "cum_quote": o.cum_quote, "ts": o.update_ms}
                   for o in self._sim.binance.orders.values()]
            return out + list(self._sim.binance.rejected)
        raise ValueError(f"unknown venue {venue!r}")

    def fills(self, venue: str) -> list[dict]:
        """Return every fill: qty, price, fee (Decimal), the order's client id, side, ts (ms)."""
        if venue == "upbit":
            return [dict(f) for f in self._sim.upbit.fills]
        if venue == "binance_usdm":
            return [dict(f) for f in self._sim.binance.fills]
        raise ValueError(f"unknown venue {venue!r}")

    def balances(self, venue: str, api_key: str) -> dict[str, Decimal]:
        """Return total balances per asset (Upbit: free + locked; Binance: wallet balance)."""
        if venue == "upbit":
            return self._sim.upbit.wallets[api_key].totals()
        if venue == "binance_usdm":
            return dict(self._sim.binance.wallets[api_key].balances)
        raise ValueError(f"unknown venue {venue!r}")

    def locked(self, api_key: str) -> dict[str, Decimal]:
        """Return Upbit's locked amounts per currency for `api_key`."""
        return {k: v for k, v in self._sim.upbit.wallets[api_key].locked.items() if v}

    def positions(self, api_key: str) -> dict[str, Decimal]:
        """Return the Binance net position per symbol (zero positions omitted)."""
        return {s: p.amount for s, p in self._sim.binance.wallets[api_key].positions.items() if p.amount}

    def income(self, api_key: str | None = None, income_type: str | None = None) -> list[dict]:
        """Return Binance income entries (oldest first; `income` a Decimal), optionally of one
        account and one type (FUNDING_FEE, COMMISSION, REALIZED_PNL)."""
        return [dict(e) for e in self._sim.binance.income
                if (api_key is None or e["api_key"] == api_key)
                and (income_type is None or e["income_type"] == income_type)]

    def market(self) -> dict:
        """Return the model state (mids, USDT/KRW, premium per symbol)."""
        return self._sim.model.snapshot()


def _default(obj: object) -> object:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    raise TypeError


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj, default=_default), status=status, content_type="application/json")


def admin_routes(sim, app: web.Application) -> None:
    """Add /metrics and /_sim/* (truth, faults, pause/resume) to a venue app."""
    truth = sim.truth

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=sim.metrics.render(), headers={"Content-Type": sim.metrics.content_type})

    def guard(fn):
        async def handler(request: web.Request) -> web.Response:
            try:
                return await fn(request)
            except (KeyError, ValueError, TypeError) as exc:
                return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return handler

    @guard
    async def book(request: web.Request) -> web.Response:
        q = request.query
        bids, asks = truth.book(q["venue"], q["code"], int(q.get("depth", "20")))
        return _json({"bids": bids, "asks": asks})

    @guard
    async def orders(request: web.Request) -> web.Response:
        return _json(truth.orders(request.query["venue"]))

    @guard
    async def fills(request: web.Request) -> web.Response:
        return _json(truth.fills(request.query["venue"]))

    @guard
    async def balances(request: web.Request) -> web.Response:
        return _json(truth.balances(request.query["venue"], request.query["api_key"]))

    @guard
    async def positions(request: web.Request) -> web.Response:
        return _json(truth.positions(request.query["api_key"]))

    async def income(request: web.Request) -> web.Response:
        q = request.query
        return _json(truth.income(q.get("api_key"), q.get("income_type")))

    async def market(request: web.Request) -> web.Response:
        return _json(truth.market())

    @guard
    async def faults(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = orjson.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("a fault plan is a JSON object")
            sim.faults = FaultPlan.from_dict(body)
        return _json(sim.faults.to_dict())

    async def pause(request: web.Request) -> web.Response:
        sim.pause_market()
        return _json({"paused": True})

    async def resume(request: web.Request) -> web.Response:
        sim.resume_market()
        return _json({"paused": False})

    r = app.router
    r.add_get("/metrics", metrics)
    r.add_get("/_sim/truth/book", book)
    r.add_get("/_sim/truth/orders", orders)
    r.add_get("/_sim/truth/fills", fills)
    r.add_get("/_sim/truth/balances", balances)
    r.add_get("/_sim/truth/positions", positions)
    r.add_get("/_sim/truth/income", income)
    r.add_get("/_sim/market", market)
    r.add_get("/_sim/faults", faults)
    r.add_post("/_sim/faults", faults)
    r.add_post("/_sim/pause", pause)
    r.add_post("/_sim/resume", resume)
