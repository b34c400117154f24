"""Binance USDⓈ-M REST (/fapi/...) on aiohttp.web: string decimals, HMAC-signed trading calls,
X-MBX-USED-WEIGHT-1M on every answer, 429 then 418, and {"code","msg"} errors.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from arbv2.adapters.simulator.auth import AuthFailure
from arbv2.adapters.simulator.wsconn import SIM_KEY
from arbv2.adapters.simulator.binance_exchange import BinanceReject
from arbv2.adapters.simulator.binance_ws import binance_ws_handler
from arbv2.adapters.simulator.book import ASK, BID
from arbv2.adapters.simulator import binance_views
from arbv2.adapters.simulator.specs import decimals_of, fmt

log = logging.getLogger(__name__)
ZERO = Decimal(0)
DEPTH_WEIGHT = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
WEIGHTS = {("GET", "/fapi/v1/ping"): 1, ("GET", "/fapi/v1/time"): 1, ("GET", "/fapi/v1/exchangeInfo"): 1,
           ("GET", "/fapi/v1/premiumIndex"): 1, ("GET", "/fapi/v1/ticker/bookTicker"): 2,
           ("POST", "/fapi/v1/order"): 0, ("GET", "/fapi/v1/order"): 1, ("DELETE", "/fapi/v1/order"): 1,
           ("GET", "/fapi/v1/openOrders"): 1, ("POST", "/fapi/v1/leverage"): 1, ("POST", "/fapi/v1/marginType"): 1,
           ("GET", "/fapi/v1/positionSide/dual"): 30, ("GET", "/fapi/v2/balance"): 5, ("GET", "/fapi/v3/balance"): 5,
           ("GET", "/fapi/v2/positionRisk"): 5, ("GET", "/fapi/v3/positionRisk"): 5, ("GET", "/fapi/v2/account"): 5,
           ("GET", "/fapi/v3/account"): 5, ("GET", "/fapi/v1/commissionRate"): 20,
           ("GET", "/fapi/v1/leverageBracket"): 1, ("GET", "/fapi/v1/userTrades"): 5,
           ("GET", "/fapi/v1/income"): 30}


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _err(status: int, code: int, msg: str) -> web.Response:
    return _json({"code": code, "msg": msg}, status)


class BinanceApp:
    """Build the aiohttp application serving Binance USDⓈ-M paths for one simulator."""

    def __init__(self, sim) -> None:
        self.sim = sim

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        app[SIM_KEY] = self.sim
        r = app.router
        r.add_get("/fapi/v1/ping", self.ping)
        r.add_get("/fapi/v1/time", self.time)
        r.add_get("/fapi/v1/exchangeInfo", self.exchange_info)
        r.add_get("/fapi/v1/depth", self.depth)
        r.add_get("/fapi/v1/premiumIndex", self.premium_index)
        r.add_get("/fapi/v1/ticker/bookTicker", self.book_ticker)
        r.add_post("/fapi/v1/order", self.new_order)
        r.add_get("/fapi/v1/order", self.get_order)
        r.add_delete("/fapi/v1/order", self.cancel_order)
        r.add_get("/fapi/v1/openOrders", self.open_orders)
        r.add_get("/fapi/v1/userTrades", self.user_trades)
        r.add_get("/fapi/v1/income", self.income)
        r.add_post("/fapi/v1/leverage", self.leverage)
        r.add_post("/fapi/v1/marginType", self.margin_type)
        r.add_get("/fapi/v1/positionSide/dual", self.dual)
        r.add_get("/fapi/v1/commissionRate", self.commission)
        r.add_get("/fapi/v1/leverageBracket", self.leverage_bracket)
        for v in ("v2", "v3"):
            r.add_get(f"/fapi/{v}/balance", self.balance)
            r.add_get(f"/fapi/{v}/positionRisk", self.position_risk)
            r.add_get(f"/fapi/{v}/account", self.account)
        for route in ("", "/public", "/market"):
            r.add_get(f"{route}/ws/{{streams:.*}}", binance_ws_handler)
            r.add_get(f"{route}/stream", binance_ws_handler)
        self.sim.add_admin_routes(app)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        sim = self.sim
        path = request.path
        if path.startswith(("/_sim", "/metrics", "/ws/", "/stream", "/public/", "/market/")):
            return await handler(request)
        weight = WEIGHTS.get((request.method, path), 1)
        if path == "/fapi/v1/depth":
            weight = DEPTH_WEIGHT.get(_int(request.query.get("limit"), 500), 10)
        if path == "/fapi/v1/premiumIndex" and "symbol" not in request.query:
            weight = 10
        who = request.remote or "?"
        fault = sim.dice.http_fault("binance_usdm")
        if sim.dice.skew_ms("binance_usdm"):
            sim.dice.count("binance_usdm", "clock_skew")
        verdict = sim.binance_limiter.check(who, weight, sim.wall_s())
        try:
            if fault == 503:
                resp = _err(503, -1001, "Service Unavailable.")
            elif fault == 429 or verdict.status == 429:
                resp = _err(429, -1003, f"Too many requests; current limit of IP({who}) is "
                                        f"{sim.binance_limiter.weight_limit_1m} requests per minute.")
            elif fault == 418 or verdict.status == 418:
                resp = _err(418, -1003, f"Way too many requests; IP({who}) banned until "
                                        f"{sim.now_ms('binance_usdm') + verdict.retry_after_s * 1000}.")
            else:
                resp = await handler(request)
        except BinanceReject as exc:
            resp = _err(exc.status, exc.code, exc.msg)
        except AuthFailure as exc:
            resp = _err(exc.status, int(exc.code), exc.message)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            resp = _err(404, -5000, f"Path {path}, Method {request.method} is invalid")
        except Exception:            # a bug in the simulator must not take the server down
            log.exception("binance simulator handler failed: %s %s", request.method, path)
            resp = _err(500, -1000, "An unknown error occurred while processing the request.")
        if resp.status in (429, 418):
            resp.headers["Retry-After"] = str(max(verdict.retry_after_s, 1))
        resp.headers["X-MBX-USED-WEIGHT-1M"] = str(sim.binance_limiter.used_weight(who, sim.wall_s()))
        sim.metrics.requests.labels("binance_usdm", str(resp.status)).inc()
        return resp

    # ---- helpers ---------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, str], str]:
        raw_body = (await request.read()).decode("utf-8", "replace") if request.can_read_body else ""
        params = dict(parse_qsl(raw_body, keep_blank_values=True))
        params.update(request.query)        # the query string wins over the body
        return params, raw_body

    async def _signed(self, request: web.Request) -> tuple[str, dict[str, str]]:
        params, raw_body = await self._params(request)
        key = self.sim.binance_auth.verify(request.headers.get("X-MBX-APIKEY"), request.query_string, raw_body,
                                           params, self.sim.now_ms("binance_usdm"))
        return key, params

    # ---- market data -----------------------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return _json({})

    async def time(self, request: web.Request) -> web.Response:
        return _json({"serverTime": self.sim.now_ms("binance_usdm")})

    async def exchange_info(self, request: web.Request) -> web.Response:
        return _json(self.sim.binance_exchange_info())

    async def depth(self, request: web.Request) -> web.Response:
        ex = self.sim.binance
        spec = ex.spec(request.query.get("symbol"))
        limit = _int(request.query.get("limit"), 500)
        if limit not in DEPTH_WEIGHT:
            raise BinanceReject(400, -4021, "Invalid depth limit.")
        book = ex.books[spec.symbol]
        last_id = book.reserve_id()
        pd, qd = decimals_of(spec.tick_size), decimals_of(spec.step_size)
        now = self.sim.now_ms("binance_usdm")
        return _json({"lastUpdateId": last_id, "E": now, "T": now,
                      "bids": [[fmt(p, pd), fmt(q, qd)] for p, q in book.top(BID, limit)],
                      "asks": [[fmt(p, pd), fmt(q, qd)] for p, q in book.top(ASK, limit)]})

    async def premium_index(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol")
        if sym is not None:
            self.sim.binance.spec(sym)
            return _json(self.sim.premium_index(sym))
        return _json([self.sim.premium_index(s) for s in self.sim.binance.specs])

    async def book_ticker(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol")
        syms = [self.sim.binance.spec(sym).symbol] if sym else list(self.sim.binance.specs)
        out = [self.sim.binance_hub.book_ticker_obj(s, self.sim.now_ms("binance_usdm"), rest=True) for s in syms]
        return _json(out[0] if sym else out)

    # ---- trading ---------------------------------------------------------------------------
    async def new_order(self, request: web.Request) -> web.Response:
        sim = self.sim
        key, params = await self._signed(request)
        now_s = sim.wall_s()
        c10, c60, over = sim.binance_limiter.count_order(key, now_s)
        if over:
            raise BinanceReject(429, -1015, "Too many new orders; current limit is 1200 orders per MINUTE.")
        dice, plan = sim.dice, sim.dice.plan
        reject = dice.roll("binance_usdm", plan.order_reject_share, "order_reject")
        partial = plan.partial_fill_ratio if dice.roll("binance_usdm", plan.partial_fill_share, "partial_fill") else None
        timeout = dice.roll("binance_usdm", plan.order_timeout_share, "order_timeout")
        try:
            order = sim.binance.create(key, params, sim.now_ms("binance_usdm"), partial, reject)
        except BinanceReject:
            sim.metrics.orders.labels("binance_usdm", "rejected").inc()
            raise
        sim.metrics.orders.labels("binance_usdm", order.status.lower()).inc()
        ack = params.get("newOrderRespType", "ACK") == "ACK" and order.type == "MARKET"
        wire = order.to_wire(sim.binance.specs[order.symbol], as_ack=ack)
        if timeout:
            await asyncio.sleep(plan.order_timeout_s)
        resp = _json(wire)
        resp.headers["X-MBX-ORDER-COUNT-10S"] = str(c10)
        resp.headers["X-MBX-ORDER-COUNT-1M"] = str(c60)
        return resp

    async def get_order(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        order = self.sim.binance.find(key, params)
        return _json(order.to_wire(self.sim.binance.specs[order.symbol]))

    async def cancel_order(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        order = self.sim.binance.cancel(key, params, self.sim.now_ms("binance_usdm"))
        return _json(order.to_wire(self.sim.binance.specs[order.symbol]))

    async def open_orders(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        sym = params.get("symbol")
        if sym is not None:
            self.sim.binance.spec(sym)
        ex = self.sim.binance
        return _json([o.to_wire(ex.specs[o.symbol]) for o in ex.open_orders(key, sym)])

    async def user_trades(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        return _json(binance_views.user_trades(self.sim.binance, key, params, self.sim.now_ms("binance_usdm")))

    async def income(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        return _json(binance_views.income(self.sim.binance, key, params, self.sim.now_ms("binance_usdm")))

    async def leverage(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        spec = self.sim.binance.spec(params.get("symbol"))
        lev = _int(params.get("leverage"), -1)
        if not 1 <= lev <= 125:
            raise BinanceReject(400, -4028, f"Leverage {params.get('leverage')} is not valid")
        self.sim.binance.wallets[key].leverage[spec.symbol] = lev
        return _json({"leverage": lev, "maxNotionalValue": str(max(1, 125 // lev) * 1_000_000), "symbol": spec.symbol})

    async def margin_type(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        spec = self.sim.binance.spec(params.get("symbol"))
        mt = params.get("marginType", "").upper()
        if mt not in ("ISOLATED", "CROSSED"):
            raise BinanceReject(400, -4044, "The margin type is invalid.")
        wallet = self.sim.binance.wallets[key]
        if wallet.margin_type.get(spec.symbol, "CROSSED") == mt:
            raise BinanceReject(400, -4046, "No need to change margin type.")
        if wallet.position(spec.symbol).amount != 0:
            raise BinanceReject(400, -4048, "Margin type cannot be changed if there exists position.")
        wallet.margin_type[spec.symbol] = mt
        return _json({"code": 200, "msg": "success"})

    async def dual(self, request: web.Request) -> web.Response:
        await self._signed(request)
        return _json({"dualSidePosition": False})

    async def commission(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        spec = self.sim.binance.spec(params.get("symbol"))
        maker, taker = self.sim.binance.rates(key)
        return _json({"symbol": spec.symbol, "makerCommissionRate": fmt(maker), "takerCommissionRate": fmt(taker)})

    async def leverage_bracket(self, request: web.Request) -> web.Response:
        _, params = await self._signed(request)
        sym = params.get("symbol")
        syms = [self.sim.binance.spec(sym).symbol] if sym else list(self.sim.binance.specs)
        brackets = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
                     "maintMarginRatio": 0.004, "cum": 0.0},
                    {"bracket": 2, "initialLeverage": 20, "notionalCap": 100000000, "notionalFloor": 50000,
                     "maintMarginRatio": 0.005, "cum": 50.0}]
        return _json([{"symbol": s, "brackets": brackets} for s in syms])

    async def balance(self, request: web.Request) -> web.Response:
        key, _ = await self._signed(request)
        return _json(self.sim.binance_balances(key))

    async def position_risk(self, request: web.Request) -> web.Response:
        key, params = await self._signed(request)
        v3 = request.path.startswith("/fapi/v3")
        sym = params.get("symbol")
        if sym is not None:
            self.sim.binance.spec(sym)
        return _json(self.sim.binance_positions(key, sym, only_open=v3))

    async def account(self, request: web.Request) -> web.Response:
        key, _ = await self._signed(request)
        return _json(self.sim.binance_account(key))


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default
