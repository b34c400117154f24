"""Upbit REST (/v1/...) on aiohttp.web: quotation endpoints with JSON numbers, exchange endpoints
with numeric strings, JWT auth, Remaining-Req headers, 429/418, and Upbit's error shape.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import orjson
from aiohttp import web

from arbv2.adapters.simulator.auth import AuthFailure
from arbv2.adapters.simulator.wsconn import SIM_KEY
from arbv2.adapters.simulator.book import BID
from arbv2.adapters.simulator.ratelimit import Verdict
from arbv2.adapters.simulator.specs import UPBIT_FEE, UPBIT_MAX_TOTAL_KRW, UPBIT_MIN_TOTAL_KRW, fmt, krw_tick
from arbv2.adapters.simulator.upbit_exchange import UpbitReject
from arbv2.adapters.simulator.upbit_ws import orderbook_units, upbit_ws_handler

log = logging.getLogger(__name__)
_RK = getattr(web, "RequestKey", None)
RATE_GROUP = _RK("rate_group", str) if _RK else "rate_group"
VERDICT = _RK("verdict", object) if _RK else "verdict"
ZERO = Decimal(0)
PUBLIC_GROUPS = {"/v1/market/all": "market", "/v1/orderbook": "orderbook",
                 "/v1/orderbook/instruments": "orderbook", "/v1/ticker": "ticker"}


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json", charset="utf-8")


def _err(status: int, name: str | int, message: str) -> web.Response:
    return _json({"error": {"name": name, "message": message}}, status)


class _Limited(Exception):
    def __init__(self, verdict: Verdict, group: str) -> None:
        self.verdict, self.group = verdict, group


def _limited_response(v: Verdict) -> web.Response:
    if v.status == 429:
        return web.Response(status=429, text="Too many API requests.")
    return web.Response(status=418, text=f"Too many API requests. Blocked for {v.retry_after_s} seconds.")


class UpbitApp:
    """Build the aiohttp application serving Upbit's paths for one simulator."""

    def __init__(self, sim) -> None:
        self.sim = sim

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        app[SIM_KEY] = self.sim
        r = app.router
        r.add_get("/v1/market/all", self.market_all)
        r.add_get("/v1/orderbook", self.orderbook)
        r.add_get("/v1/orderbook/instruments", self.instruments)
        r.add_get("/v1/ticker", self.ticker)
        r.add_get("/v1/accounts", self.accounts)
        r.add_get("/v1/orders/chance", self.chance)
        r.add_post("/v1/orders", self.create_order)
        r.add_post("/v1/orders/test", self.test_order)
        r.add_get("/v1/order", self.get_order)
        r.add_delete("/v1/order", self.cancel_order)
        r.add_get("/v1/orders/open", self.open_orders)
        r.add_get("/v1/orders/closed", self.closed_orders)
        r.add_get("/websocket/v1", upbit_ws_handler)
        self.sim.add_admin_routes(app)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        sim = self.sim
        if request.path.startswith("/_sim") or request.path in ("/metrics", "/websocket/v1"):
            return await handler(request)
        group = PUBLIC_GROUPS.get(request.path)
        verdict = Verdict(200, remaining=sim.upbit_limiter.limits.get(group or "default", 30))
        fault = sim.dice.http_fault("upbit")
        if sim.dice.skew_ms("upbit"):
            sim.dice.count("upbit", "clock_skew")
        try:
            if fault == 503:
                resp = _err(503, "server_error", "Service Unavailable")
            elif fault:
                resp = _limited_response(Verdict(fault, retry_after_s=60))
            else:
                if group is not None:
                    verdict = sim.upbit_limiter.check(group, request.remote or "?", sim.wall_s())
                    if verdict.status != 200:
                        raise _Limited(verdict, group)
                request[RATE_GROUP] = group
                resp = await handler(request)
                verdict = request.get(VERDICT, verdict)
                group = request.get(RATE_GROUP) or "default"
        except _Limited as exc:
            resp, verdict, group = _limited_response(exc.verdict), exc.verdict, exc.group
        except UpbitReject as exc:
            resp = _err(exc.status, exc.name, exc.message)
            verdict, group = request.get(VERDICT, verdict), request.get(RATE_GROUP) or "default"
        except AuthFailure as exc:
            resp = _err(exc.status, exc.code, exc.message)
        except web.HTTPNotFound:
            resp = _err(404, 404, "Not Found")
        except web.HTTPMethodNotAllowed:
            resp = _err(405, 405, "Method Not Allowed")
        except Exception:            # a bug in the simulator must not take the server down
            log.exception("upbit simulator handler failed: %s %s", request.method, request.path)
            resp = _err(500, "server_error", "Internal Server Error")
        resp.headers["Remaining-Req"] = f"group={group or 'default'}; min=1800; sec={max(verdict.remaining, 0)}"
        sim.metrics.requests.labels("upbit", str(resp.status)).inc()
        return resp

    # ---- helpers ---------------------------------------------------------------------------
    def _markets(self, request: web.Request, name: str = "markets") -> list[str]:
        raw = request.query.get(name) or request.query.get("market")
        if not raw:
            raise UpbitReject(400, "validation_error", f"{name} is missing")
        codes = [c.strip().upper() for c in raw.split(",") if c.strip()]
        if not codes or any(c not in self.sim.upbit.books for c in codes):
            raise UpbitReject(404, 404, "Code not found")
        return codes

    async def _private(self, request: web.Request, group: str, body: dict | None = None) -> str:
        sim = self.sim
        key = sim.upbit_auth.verify(request.headers.get("Authorization"), request.query_string, body)
        verdict = sim.upbit_limiter.check(group, key, sim.wall_s())
        request[RATE_GROUP], request[VERDICT] = group, verdict
        if verdict.status != 200:
            raise _Limited(verdict, group)
        return key

    async def _body(self, request: web.Request) -> dict:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise UpbitReject(400, "validation_error", "request body must be JSON") from None
        if not isinstance(body, dict):
            raise UpbitReject(400, "validation_error", "request body must be a JSON object")
        return body

    # ---- quotation -------------------------------------------------------------------------
    async def market_all(self, request: web.Request) -> web.Response:
        details = request.query.get("is_details", "false").lower() == "true"
        out = []
        for code, (kr, en) in self.sim.upbit_names.items():
            item = {"market": code, "korean_name": kr, "english_name": en}
            if details:
                item["market_event"] = {"warning": False, "caution": {
                    "PRICE_FLUCTUATIONS": False, "TRADING_VOLUME_SOARING": False, "DEPOSIT_AMOUNT_SOARING": False,
                    "GLOBAL_PRICE_DIFFERENCES": False, "CONCENTRATION_OF_SMALL_ACCOUNTS": False}}
            out.append(item)
        return _json(out)

    async def orderbook(self, request: web.Request) -> web.Response:
        codes = self._markets(request)
        try:
            count = int(request.query.get("count", "30"))
        except ValueError:
            count = 30
        count = count if 1 <= count <= 30 else 30
        now = self.sim.now_ms("upbit")
        out = []
        for code in codes:
            units, tas, tbs = orderbook_units(self.sim.upbit.books[code], count)
            out.append({"market": code, "timestamp": now, "total_ask_size": tas, "total_bid_size": tbs,
                        "orderbook_units": units, "level": 0})
        return _json(out)

    async def instruments(self, request: web.Request) -> web.Response:
        out = []
        for code in self._markets(request):
            best = self.sim.upbit.books[code].best(BID)
            tick = krw_tick(best[0]) if best else Decimal(1)
            out.append({"market": code, "quote_currency": "KRW", "tick_size": fmt(tick),
                        "supported_levels": ["0"]})
        return _json(out)

    async def ticker(self, request: web.Request) -> web.Response:
        now = self.sim.now_ms("upbit")
        out = []
        for code in self._markets(request):
            t = self.sim.upbit_hub.ticker_obj(code, now, "SNAPSHOT")
            for k in ("type", "code", "stream_type", "market_state", "ask_bid", "sequential_id"):
                t.pop(k, None)
            out.append({"market": code, **t})
        return _json(out)

    # ---- exchange --------------------------------------------------------------------------
    async def accounts(self, request: web.Request) -> web.Response:
        key = await self._private(request, "default")
        w = self.sim.upbit.wallets[key]
        out = []
        for cur in sorted(set(w.free) | set(w.locked)):
            free, locked = w.free.get(cur, ZERO), w.locked.get(cur, ZERO)
            if free == 0 and locked == 0:
                continue
            out.append({"currency": cur, "balance": fmt(free), "locked": fmt(locked),
                        "avg_buy_price": fmt(w.avg_buy.get(cur, ZERO)), "avg_buy_price_modified": False,
                        "unit_currency": "KRW"})
        return _json(out)

    async def chance(self, request: web.Request) -> web.Response:
        key = await self._private(request, "default")
        code = self._markets(request, "market")[0]
        quote, base = code.split("-")
        w = self.sim.upbit.wallets[key]

        def acct(cur: str) -> dict:
            return {"currency": cur, "balance": fmt(w.free.get(cur, ZERO)), "locked": fmt(w.locked.get(cur, ZERO)),
                    "avg_buy_price": fmt(w.avg_buy.get(cur, ZERO)), "avg_buy_price_modified": False,
                    "unit_currency": "KRW"}
        fee = fmt(UPBIT_FEE)
        return _json({"bid_fee": fee, "ask_fee": fee, "maker_bid_fee": fee, "maker_ask_fee": fee,
                      "market": {"id": code, "name": f"{base}/{quote}", "order_types": ["limit"],
                                 "order_sides": ["ask", "bid"], "bid_types": ["limit", "price", "best_fok", "best_ioc", "limit_ioc", "limit_fok"],
                                 "ask_types": ["limit", "market", "best_fok", "best_ioc", "limit_ioc", "limit_fok"],
                                 "bid": {"currency": quote, "min_total": fmt(UPBIT_MIN_TOTAL_KRW)},
                                 "ask": {"currency": quote, "min_total": fmt(UPBIT_MIN_TOTAL_KRW)},
                                 "max_total": fmt(UPBIT_MAX_TOTAL_KRW), "state": "active"},
                      "bid_account": acct(quote), "ask_account": acct(base)})

    async def create_order(self, request: web.Request) -> web.Response:
        sim = self.sim
        body = await self._body(request)
        key = await self._private(request, "order", body)
        dice, plan = sim.dice, sim.dice.plan
        reject = dice.roll("upbit", plan.order_reject_share, "order_reject")
        partial = plan.partial_fill_ratio if dice.roll("upbit", plan.partial_fill_share, "partial_fill") else None
        timeout = dice.roll("upbit", plan.order_timeout_share, "order_timeout")
        try:
            order = sim.upbit.create(key, body, sim.now_ms("upbit"), sim.iso_now("upbit"), partial, reject)
        except UpbitReject:
            sim.metrics.orders.labels("upbit", "rejected").inc()
            raise
        wire = order.to_wire()             # as accepted: state "wait", nothing executed yet
        sim.schedule_upbit_match(order.uuid)
        if timeout:
            await asyncio.sleep(plan.order_timeout_s)
        return _json(wire, 201)

    async def test_order(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        await self._private(request, "order-test", body)
        if body.get("market") not in self.sim.upbit.books:
            raise UpbitReject(404, "market_does_not_exist", "마켓이 존재하지 않습니다.")
        return _json({"uuid": "00000000-0000-4000-8000-000000000000", "side": body.get("side"),
                      "ord_type": body.get("ord_type"), "price": body.get("price"), "state": "wait",
                      "market": body.get("market"), "created_at": self.sim.iso_now("upbit"),
                      "volume": body.get("volume"), "remaining_volume": body.get("volume"),
                      "executed_volume": "0", "trades_count": 0, "identifier": body.get("identifier")}, 201)

    async def get_order(self, request: web.Request) -> web.Response:
        key = await self._private(request, "default")
        q = request.query
        return _json(self.sim.upbit.find(key, q.get("uuid"), q.get("identifier")).to_wire(with_trades=True))

    async def cancel_order(self, request: web.Request) -> web.Response:
        key = await self._private(request, "default")
        q = request.query
        order = self.sim.upbit.cancel(key, q.get("uuid"), q.get("identifier"))
        wire = order.to_wire()
        wire["state"] = "wait"              # Upbit answers before the cancel completes
        return _json(wire)

    async def _list(self, request: web.Request, states: tuple[str, ...]) -> web.Response:
        key = await self._private(request, "default")
        q = request.query
        wanted = set(q.getall("states[]", [])) or ({q["state"]} if "state" in q else set(states))
        market = q.get("market")
        orders = [o for o in self.sim.upbit.orders.values() if o.api_key == key and o.state in wanted
                  and o.state in states and (market is None or o.market == market)]
        orders.sort(key=lambda o: o.ts_ms, reverse=q.get("order_by", "desc") == "desc")
        limit = min(int(q.get("limit", "100")) if q.get("limit", "100").isdigit() else 100, 1000)
        return _json([o.to_wire() for o in orders[:limit]])

    async def open_orders(self, request: web.Request) -> web.Response:
        return await self._list(request, ("wait", "watch"))

    async def closed_orders(self, request: web.Request) -> web.Response:
        return await self._list(request, ("done", "cancel"))
