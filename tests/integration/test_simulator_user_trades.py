"""GET /fapi/v1/userTrades on the simulator, over real HTTP: one entry per matched level with the
venue's field names and string numbers, commissions at the account's rate (what the wallet paid),
weight 5, and the filters (symbol, orderId, startTime/endTime, fromId, limit) with their errors."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest

from arbv2.adapters.simulator import SimAccount, SimulatorServer

pytestmark = pytest.mark.integration
BN_KEY, BN_SECRET = "sim-binance-key", "sim-binance-secret"
OTHER_KEY, OTHER_SECRET = "sim-binance-other", "sim-binance-other-secret"
FIELDS = {"symbol", "id", "orderId", "side", "price", "qty", "realizedPnl", "quoteQty", "commission",
          "commissionAsset", "time", "buyer", "maker", "positionSide"}
Q8 = Decimal("0.00000001")


def bn_query(params: dict, secret: str = BN_SECRET) -> str:
    qs = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return qs + "&signature=" + hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()


async def call(http, sim, method: str, path: str, params: dict, key: str = BN_KEY, secret: str = BN_SECRET):
    async with http.request(method, f"{sim.binance_url}{path}?{bn_query(params, secret)}",
                            headers={"X-MBX-APIKEY": key}) as r:
        return r.status, await r.json(), int(r.headers["X-MBX-USED-WEIGHT-1M"])


async def trades(http, sim, params: dict, **kw):
    status, body, _ = await call(http, sim, "GET", "/fapi/v1/userTrades", params, **kw)
    assert status == 200, body
    return body


async def market(http, sim, side: str, qty: str, cid: str, symbol: str = "BTCUSDT", **extra):
    status, order, _ = await call(http, sim, "POST", "/fapi/v1/order",
                                  {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty,
                                   "newClientOrderId": cid, "newOrderRespType": "RESULT", **extra})
    assert status == 200 and order["status"] == "FILLED", order
    return order


@pytest.fixture
async def env():
    accounts = [SimAccount("binance_usdm", BN_KEY, BN_SECRET, {"USDT": Decimal(1_000_000)}),
                SimAccount("binance_usdm", OTHER_KEY, OTHER_SECRET, {"USDT": Decimal(1_000_000)}),
                SimAccount("upbit", "sim-upbit-access", "sim-upbit-secret", {"KRW": Decimal(1_000_000)})]
    async with SimulatorServer(seed=5, tick_interval_s=0.05, accounts=accounts) as sim, \
            aiohttp.ClientSession() as http:
        sim.pause_market()
        yield sim, http


async def test_one_entry_per_matched_level_with_the_venues_fields(env):
    sim, http = env
    asks = sim.truth.book("binance_usdm", "BTCUSDT", 50)[1]
    qty = sum((q for _, q in asks[:3]), Decimal(0)) - asks[2][1] / 2     # walks exactly three levels
    qty = qty.quantize(Decimal("0.001"), "ROUND_FLOOR")
    order = await market(http, sim, "BUY", str(qty), "ut-1")
    usdt_before = sim.truth.balances("binance_usdm", BN_KEY)["USDT"]
    _, _, used_before = await call(http, sim, "GET", "/fapi/v1/time", {})
    status, got, used_after = await call(http, sim, "GET", "/fapi/v1/userTrades",
                                         {"symbol": "BTCUSDT", "orderId": order["orderId"]})
    assert status == 200 and used_after - used_before == 5
    assert len(got) == 3 and [set(t) for t in got] == [FIELDS] * 3
    truth = [f for f in sim.truth.fills("binance_usdm") if f["client_order_id"] == "ut-1"]
    assert [t["id"] for t in got] == [f["trade_id"] for f in truth] and got[0]["id"] < got[1]["id"] < got[2]["id"]
    for t, (px, _), f in zip(got, asks, truth):
        assert all(isinstance(t[k], str) for k in ("price", "qty", "quoteQty", "commission", "realizedPnl"))
        assert isinstance(t["id"], int) and isinstance(t["orderId"], int) and isinstance(t["time"], int)
        assert (t["symbol"], t["orderId"], t["side"], t["positionSide"]) == ("BTCUSDT", order["orderId"], "BUY", "BOTH")
        assert (t["buyer"], t["maker"], t["commissionAsset"]) == (True, False, "USDT")
        assert Decimal(t["price"]) == px == f["price"] and Decimal(t["qty"]) == f["qty"]
        assert Decimal(t["quoteQty"]) == Decimal(t["price"]) * Decimal(t["qty"])
        assert Decimal(t["commission"]) == (Decimal(t["quoteQty"]) * Decimal("0.0005")).quantize(Q8, "ROUND_HALF_UP")
        assert Decimal(t["commission"]) == f["fee"] and Decimal(t["realizedPnl"]) == 0
    assert sum(Decimal(t["qty"]) for t in got) == Decimal(order["executedQty"]) == qty
    assert sum(Decimal(t["quoteQty"]) for t in got) == Decimal(order["cumQuote"])
    paid = sum(Decimal(t["commission"]) for t in got)
    assert Decimal(1_000_000) - usdt_before == paid        # the wallet paid exactly what is listed
    # closing books realized PnL per trade, and the position is gone
    close = await market(http, sim, "SELL", str(qty), "ut-2", reduceOnly="true")
    sold = await trades(http, sim, {"symbol": "BTCUSDT", "orderId": close["orderId"]})
    assert sold and all((t["side"], t["buyer"]) == ("SELL", False) for t in sold)
    booked = [f["realized_pnl"] for f in sim.truth.fills("binance_usdm") if f["client_order_id"] == "ut-2"]
    assert [Decimal(t["realizedPnl"]) for t in sold] == [r.quantize(Q8) for r in booked]
    assert sum(booked) < 0       # bought the asks, sold the bids of a market that did not move
    assert sim.truth.positions(BN_KEY) == {}


async def test_eth_commission_is_rounded_to_eight_decimals_and_charged_as_stated(env):
    sim, http = env
    order = await market(http, sim, "SELL", "0.317", "ut-eth", symbol="ETHUSDT")   # 3499.99 x 0.317
    got = await trades(http, sim, {"symbol": "ETHUSDT", "orderId": order["orderId"]})
    exact = [Decimal(t["quoteQty"]) * Decimal("0.0005") for t in got]
    assert any(e != e.quantize(Q8) for e in exact), "pick a size whose exact fee has 9+ decimals"
    assert [Decimal(t["commission"]) for t in got] == [e.quantize(Q8, "ROUND_HALF_UP") for e in exact]
    assert Decimal(1_000_000) - sim.truth.balances("binance_usdm", BN_KEY)["USDT"] == \
        sum(Decimal(t["commission"]) for t in got)


async def test_account_rates_and_maker_fills(env):
    sim, http = env
    sim.binance.set_commission_rates(BN_KEY, maker=Decimal("0.00016"), taker=Decimal("0.00045"))
    status, rate, _ = await call(http, sim, "GET", "/fapi/v1/commissionRate", {"symbol": "BTCUSDT"})
    assert status == 200 and (rate["makerCommissionRate"], rate["takerCommissionRate"]) == ("0.00016", "0.00045")
    status, other_rate, _ = await call(http, sim, "GET", "/fapi/v1/commissionRate", {"symbol": "BTCUSDT"},
                                       key=OTHER_KEY, secret=OTHER_SECRET)
    assert other_rate["takerCommissionRate"] == "0.0005"
    taken = await market(http, sim, "SELL", "0.250", "ut-vip")
    for t in await trades(http, sim, {"symbol": "BTCUSDT", "orderId": taken["orderId"]}):
        assert Decimal(t["commission"]) == (Decimal(t["quoteQty"]) * Decimal("0.00045")).quantize(Q8, "ROUND_HALF_UP")
    # a resting GTC buy the market comes down to fills as maker, at its price, at the maker rate
    best_ask = sim.truth.book("binance_usdm", "BTCUSDT", 1)[1][0][0]
    price = best_ask - Decimal("30.0")
    status, resting, _ = await call(http, sim, "POST", "/fapi/v1/order",
                                    {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                     "quantity": "0.100", "price": str(price), "newClientOrderId": "ut-maker"})
    assert status == 200 and resting["status"] == "NEW"
    assert await trades(http, sim, {"symbol": "BTCUSDT", "orderId": resting["orderId"]}) == []
    sim.binance.books["BTCUSDT"].set("ask", price, Decimal("5"))
    sim.tick()
    got = await trades(http, sim, {"symbol": "BTCUSDT", "orderId": resting["orderId"]})
    assert len(got) == 1 and (got[0]["maker"], got[0]["buyer"], got[0]["qty"]) == (True, True, "0.100")
    assert Decimal(got[0]["price"]) == price
    assert Decimal(got[0]["commission"]) == (price * Decimal("0.1") * Decimal("0.00016")).quantize(Q8, "ROUND_HALF_UP")


async def test_filters_order_id_from_id_limit_time_window_and_accounts(env):
    sim, http = env
    first = await market(http, sim, "BUY", "3.000", "ut-a")
    await asyncio.sleep(0.02)
    second = await market(http, sim, "SELL", "3.000", "ut-b")
    status, theirs, _ = await call(http, sim, "POST", "/fapi/v1/order",
                                   {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.500",
                                    "newOrderRespType": "RESULT"}, key=OTHER_KEY, secret=OTHER_SECRET)
    assert status == 200 and theirs["status"] == "FILLED"
    a = await trades(http, sim, {"symbol": "BTCUSDT", "orderId": first["orderId"]})
    b = await trades(http, sim, {"symbol": "BTCUSDT", "orderId": second["orderId"]})
    assert len(a) >= 2 and len(b) >= 2 and {t["orderId"] for t in a + b} == {first["orderId"], second["orderId"]}
    everything = await trades(http, sim, {"symbol": "BTCUSDT"})
    assert everything == a + b                                     # only this account's, oldest first
    other = await trades(http, sim, {"symbol": "BTCUSDT"}, key=OTHER_KEY, secret=OTHER_SECRET)
    assert other and all(t["orderId"] == theirs["orderId"] for t in other)
    assert await trades(http, sim, {"symbol": "BTCUSDT", "orderId": theirs["orderId"]}) == []
    assert await trades(http, sim, {"symbol": "ETHUSDT"}) == []
    # limit: the most recent trades; fromId: from that id upwards
    assert await trades(http, sim, {"symbol": "BTCUSDT", "limit": 2}) == everything[-2:]
    mid = everything[len(a) - 1]["id"]
    assert await trades(http, sim, {"symbol": "BTCUSDT", "fromId": mid}) == everything[len(a) - 1:]
    assert await trades(http, sim, {"symbol": "BTCUSDT", "fromId": mid, "limit": 2}) == everything[len(a) - 1:len(a) + 1]
    assert await trades(http, sim, {"symbol": "BTCUSDT", "fromId": mid, "orderId": second["orderId"]}) == b
    # time window (inclusive ms bounds); one bound alone means seven days from/to it
    t_a, t_b = a[0]["time"], b[0]["time"]
    assert t_a < t_b
    assert await trades(http, sim, {"symbol": "BTCUSDT", "startTime": t_b}) == b
    assert await trades(http, sim, {"symbol": "BTCUSDT", "endTime": t_b - 1}) == a
    assert await trades(http, sim, {"symbol": "BTCUSDT", "startTime": t_a, "endTime": t_a}) == a
    assert await trades(http, sim, {"symbol": "BTCUSDT", "startTime": t_b + 1, "endTime": t_b + 1000}) == []
    assert await trades(http, sim, {"symbol": "BTCUSDT", "endTime": t_a - 1}) == []


@pytest.mark.parametrize("params,status,code", [
    ({}, 400, -1102),
    ({"symbol": "FOOUSDT"}, 400, -1121),
    ({"symbol": "BTCUSDT", "limit": 0}, 400, -1130),
    ({"symbol": "BTCUSDT", "limit": 1001}, 400, -1130),
    ({"symbol": "BTCUSDT", "orderId": "x1"}, 400, -1100),
    ({"symbol": "BTCUSDT", "fromId": 1, "startTime": 1}, 400, -1128),
    ({"symbol": "BTCUSDT", "fromId": 1, "endTime": 1}, 400, -1128),
    ({"symbol": "BTCUSDT", "startTime": 0, "endTime": 7 * 24 * 3600 * 1000 + 1}, 400, -1127),
])
async def test_errors(env, params, status, code):
    sim, http = env
    got_status, body, _ = await call(http, sim, "GET", "/fapi/v1/userTrades", params)
    assert (got_status, body["code"]) == (status, code), body


async def test_signature_required_and_limit_bounds_accepted(env):
    sim, http = env
    async with http.get(f"{sim.binance_url}/fapi/v1/userTrades", params={"symbol": "BTCUSDT"},
                        headers={"X-MBX-APIKEY": BN_KEY}) as r:
        assert r.status == 400 and (await r.json())["code"] == -1102          # no signature
    status, body, _ = await call(http, sim, "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, secret="wrong")
    assert (status, body["code"]) == (400, -1022)
    for limit in (1, 1000):
        assert await trades(http, sim, {"symbol": "BTCUSDT", "limit": limit}) == []
    assert await trades(http, sim, {"symbol": "BTCUSDT", "startTime": 0, "endTime": 7 * 24 * 3600 * 1000}) == []
