"""Auth, order matching, fees, balances and limits of the simulator, over real HTTP."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import jwt
import pytest

pytestmark_filters = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

from arbv2.adapters.simulator import SimulatorServer

pytestmark = [pytest.mark.integration, pytestmark_filters]
UP_KEY, UP_SECRET = "sim-upbit-access", "sim-upbit-secret"
BN_KEY, BN_SECRET = "sim-binance-key", "sim-binance-secret"


def upbit_token(params: dict | None = None, alg: str = "HS512", secret: str = UP_SECRET, key: str = UP_KEY,
                nonce: str | None = None) -> str:
    claims = {"access_key": key, "nonce": nonce or str(uuid.uuid4())}
    if params:
        claims["query_hash"] = hashlib.sha512(urlencode(params).encode()).hexdigest()
        claims["query_hash_alg"] = "SHA512"
    return "Bearer " + jwt.encode(claims, secret, algorithm=alg)


def bn_query(params: dict, secret: str = BN_SECRET, ts_ms: int | None = None) -> str:
    params = {**params, "timestamp": ts_ms if ts_ms is not None else int(time.time() * 1000)}
    qs = urlencode(params)
    return qs + "&signature=" + hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def env():
    async with SimulatorServer(seed=3, tick_interval_s=0.05) as sim, aiohttp.ClientSession() as http:
        sim.pause_market()
        yield sim, http


async def _up(http, sim, method: str, path: str, params: dict | None = None, **kw):
    headers = {"Authorization": kw.pop("auth", None) or upbit_token(params)}
    if method == "POST":
        async with http.post(sim.upbit_url + path, json=params, headers=headers) as r:
            return r.status, await r.json(content_type=None)
    async with http.request(method, sim.upbit_url + path, params=params, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def _bn(http, sim, method: str, path: str, params: dict, **kw):
    qs = bn_query(params, **kw)
    async with http.request(method, f"{sim.binance_url}{path}?{qs}", headers={"X-MBX-APIKEY": BN_KEY}) as r:
        assert "X-MBX-USED-WEIGHT-1M" in r.headers
        return r.status, await r.json()


async def test_upbit_jwt_verification(env):
    sim, http = env
    for alg in ("HS256", "HS512"):
        status, body = await _up(http, sim, "GET", "/v1/accounts", auth=upbit_token(alg=alg))
        assert status == 200 and {a["currency"] for a in body} >= {"KRW", "BTC", "USDT"}
    status, body = await _up(http, sim, "GET", "/v1/accounts", auth=upbit_token(secret="wrong"))
    assert (status, body["error"]["name"]) == (401, "jwt_verification")
    status, body = await _up(http, sim, "GET", "/v1/accounts", auth=upbit_token(key="nobody"))
    assert (status, body["error"]["name"]) == (401, "invalid_access_key")
    token = upbit_token(nonce="fixed-nonce")
    assert (await _up(http, sim, "GET", "/v1/accounts", auth=token))[0] == 200
    status, body = await _up(http, sim, "GET", "/v1/accounts", auth=token)
    assert (status, body["error"]["name"]) == (401, "nonce_used")
    bad_hash = upbit_token({"market": "KRW-ETH"})
    status, body = await _up(http, sim, "GET", "/v1/orders/chance", {"market": "KRW-BTC"}, auth=bad_hash)
    assert (status, body["error"]["name"]) == (401, "invalid_query_payload")
    status, body = await _up(http, sim, "GET", "/v1/orders/chance", {"market": "KRW-BTC"})
    assert status == 200 and body["bid_fee"] == "0.0005" and body["market"]["bid"]["min_total"] == "5000"


async def test_upbit_market_buy_by_krw_walks_book_and_charges_fee(env):
    sim, http = env
    asks_before = sim.truth.book("upbit", "KRW-BTC", 30)[1]
    krw_before = sim.truth.balances("upbit", UP_KEY)["KRW"]
    btc_before = sim.truth.balances("upbit", UP_KEY)["BTC"]
    budget = Decimal("50000000")
    status, order = await _up(http, sim, "POST", "/v1/orders", {"market": "KRW-BTC", "side": "bid", "ord_type": "price",
                                                                 "price": str(budget), "identifier": "buy-1"})
    assert status == 201, order
    # like Upbit: the answer comes before the matching engine ran; the fill shows on GET /v1/order
    assert order["state"] == "wait" and order["volume"] is None and order["executed_volume"] == "0"
    status, order = await _up(http, sim, "GET", "/v1/order", {"identifier": "buy-1"})
    assert status == 200 and order["state"] in ("done", "cancel")
    fills = [f for f in sim.truth.fills("upbit") if f["client_order_id"] == "buy-1"]
    assert len(fills) >= 1 and fills[0]["price"] == asks_before[0][0]
    funds = sum(f["funds"] for f in fills)
    fee = sum(f["fee"] for f in fills)
    qty = sum(f["qty"] for f in fills)
    assert fee == funds * Decimal("0.0005") and funds <= budget
    assert Decimal(order["executed_volume"]) == qty and Decimal(order["paid_fee"]) == fee
    after = sim.truth.balances("upbit", UP_KEY)
    assert after["KRW"] == krw_before - funds - fee
    assert after["BTC"] == btc_before + qty
    assert sim.truth.book("upbit", "KRW-BTC", 30)[1][0] != asks_before[0] or len(fills) == 1
    status, got = await _up(http, sim, "GET", "/v1/order", {"identifier": "buy-1"})
    assert status == 200 and got["uuid"] == order["uuid"] and len(got["trades"]) == len(fills)


async def test_upbit_fill_after_the_answer_with_a_delay_and_cancel_before_it():
    async with SimulatorServer(seed=3, tick_interval_s=0.05, upbit_fill_delay_s=0.3) as sim, \
            aiohttp.ClientSession() as http:
        sim.pause_market()
        krw_before = sim.truth.balances("upbit", UP_KEY)["KRW"]
        body = {"market": "KRW-BTC", "side": "bid", "ord_type": "price", "price": "1000000", "identifier": "d-1"}
        status, order = await _up(http, sim, "POST", "/v1/orders", body)
        assert status == 201 and (order["state"], order["executed_volume"]) == ("wait", "0")
        status, got = await _up(http, sim, "GET", "/v1/order", {"identifier": "d-1"})
        assert (got["state"], got["executed_volume"], got["trades"]) == ("wait", "0", [])
        assert sim.truth.locked(UP_KEY)["KRW"] == Decimal("1000000") * Decimal("1.0005")
        assert not [f for f in sim.truth.fills("upbit") if f["client_order_id"] == "d-1"]
        body2 = {**body, "identifier": "d-2"}
        status, order2 = await _up(http, sim, "POST", "/v1/orders", body2)
        status, cancelled = await _up(http, sim, "DELETE", "/v1/order", {"identifier": "d-2"})
        assert status == 200
        await asyncio.sleep(0.5)
        status, got = await _up(http, sim, "GET", "/v1/order", {"identifier": "d-1"})
        assert got["state"] in ("done", "cancel") and Decimal(got["executed_volume"]) > 0 and got["trades"]
        status, got2 = await _up(http, sim, "GET", "/v1/order", {"identifier": "d-2"})
        assert (got2["state"], got2["executed_volume"], got2["trades"]) == ("cancel", "0", [])
        assert "KRW" not in sim.truth.locked(UP_KEY)
        spent = sum(f["funds"] + f["fee"] for f in sim.truth.fills("upbit"))
        assert sim.truth.balances("upbit", UP_KEY)["KRW"] == krw_before - spent
        assert {f["client_order_id"] for f in sim.truth.fills("upbit")} == {"d-1"}


async def test_upbit_order_rules(env):
    sim, http = env
    best_bid = sim.truth.book("upbit", "KRW-BTC", 1)[0][0][0]
    cases = [
        ({"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": str(best_bid + 1), "volume": "0.001"},
         "invalid_price_bid"),
        ({"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "1000000", "volume": "0.001"},
         "under_min_total_bid"),
        ({"market": "KRW-ETH", "side": "ask", "ord_type": "market", "volume": "25"}, "insufficient_funds_ask"),
        ({"market": "KRW-BTC", "side": "bid", "ord_type": "price", "price": "10000", "volume": "1"}, "create_bid_error"),
    ]
    for body, name in cases:
        status, err = await _up(http, sim, "POST", "/v1/orders", body)
        assert status == 400 and err["error"]["name"] == name, (body, err)
    limit_px = best_bid - 10 * 1000
    body = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": str(limit_px), "volume": "0.01",
            "identifier": "rest-1"}
    status, order = await _up(http, sim, "POST", "/v1/orders", body)
    assert status == 201 and order["state"] == "wait"
    assert sim.truth.locked(UP_KEY)["KRW"] == limit_px * Decimal("0.01") * Decimal("1.0005")
    status, err = await _up(http, sim, "POST", "/v1/orders", body)
    assert status == 400 and err["error"]["name"] == "validation_error"     # identifier reused
    status, cancelled = await _up(http, sim, "DELETE", "/v1/order", {"uuid": order["uuid"]})
    assert status == 200 and cancelled["uuid"] == order["uuid"]
    assert "KRW" not in sim.truth.locked(UP_KEY)
    status, err = await _up(http, sim, "DELETE", "/v1/order", {"uuid": order["uuid"]})
    assert (status, err["error"]["name"]) == (404, "order_not_found")


async def test_upbit_resting_limit_fills_when_crossed(env):
    sim, http = env
    best_ask = sim.truth.book("upbit", "KRW-XRP", 1)[1][0][0]
    status, order = await _up(http, sim, "POST", "/v1/orders", {"market": "KRW-XRP", "side": "bid", "ord_type": "limit",
                                                                 "price": str(best_ask - 5), "volume": "10"})
    assert status == 201 and order["state"] == "wait"
    sim.upbit.books["KRW-XRP"].set("ask", best_ask - 5, Decimal("100"))    # the market comes down to it
    sim.tick()
    status, got = await _up(http, sim, "GET", "/v1/order", {"uuid": order["uuid"]})
    assert got["state"] == "done" and Decimal(got["executed_volume"]) == 10


async def test_binance_hmac_and_timestamp(env):
    sim, http = env
    status, body = await _bn(http, sim, "GET", "/fapi/v2/balance", {})
    assert status == 200 and body[0]["asset"] == "USDT" and Decimal(body[0]["balance"]) == 1_000_000
    status, body = await _bn(http, sim, "GET", "/fapi/v2/balance", {}, secret="wrong")
    assert (status, body["code"]) == (400, -1022)
    status, body = await _bn(http, sim, "GET", "/fapi/v2/balance", {}, ts_ms=int(time.time() * 1000) - 10_000)
    assert (status, body["code"]) == (400, -1021)
    status, body = await _bn(http, sim, "GET", "/fapi/v2/balance", {"recvWindow": 20_000},
                             ts_ms=int(time.time() * 1000) - 10_000)
    assert status == 200
    async with http.get(f"{sim.binance_url}/fapi/v2/balance?{bn_query({})}") as r:
        assert r.status == 401 and (await r.json())["code"] == -2014
    async with http.get(f"{sim.binance_url}/fapi/v1/nope") as r:
        assert r.status == 404 and (await r.json())["code"] == -5000


async def test_binance_market_order_position_fee(env):
    sim, http = env
    asks = sim.truth.book("binance_usdm", "BTCUSDT", 50)[1]
    status, order = await _bn(http, sim, "POST", "/fapi/v1/order",
                              {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "2.000",
                               "newClientOrderId": "hedge-1", "newOrderRespType": "RESULT"})
    assert status == 200 and order["status"] == "FILLED", order
    want, cost, left = Decimal("2"), Decimal(0), Decimal("2")
    for px, q in asks:
        take = min(q, left)
        cost += take * px
        left -= take
        if left == 0:
            break
    assert Decimal(order["cumQuote"]) == cost and Decimal(order["executedQty"]) == want
    fills = [f for f in sim.truth.fills("binance_usdm") if f["client_order_id"] == "hedge-1"]
    assert sum(f["fee"] for f in fills) == cost * Decimal("0.0005")
    assert sim.truth.positions(BN_KEY) == {"BTCUSDT": Decimal("2")}
    assert sim.truth.balances("binance_usdm", BN_KEY)["USDT"] == Decimal(1_000_000) - cost * Decimal("0.0005")
    status, risk = await _bn(http, sim, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
    assert status == 200 and risk[0]["positionAmt"] == "2.000"
    status, closed = await _bn(http, sim, "POST", "/fapi/v1/order",
                               {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "2.000",
                                "reduceOnly": "true", "newOrderRespType": "RESULT"})
    assert status == 200 and closed["status"] == "FILLED" and sim.truth.positions(BN_KEY) == {}
    status, got = await _bn(http, sim, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "hedge-1"})
    assert status == 200 and got["status"] == "FILLED"


async def test_binance_order_errors_and_limit_lifecycle(env):
    sim, http = env
    base = {"symbol": "BTCUSDT", "side": "BUY"}
    cases = [({**base, "type": "MARKET", "quantity": "0.0015"}, -1111),
             ({**base, "type": "MARKET", "quantity": "0.0005"}, -1111),
             ({"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}, -4164),
             ({**base, "type": "MARKET", "quantity": "0.010", "reduceOnly": "true"}, -2022),
             ({**base, "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010", "price": "90000.05"}, -1111),
             ({"symbol": "FOOUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1121)]
    for params, code in cases:
        status, body = await _bn(http, sim, "POST", "/fapi/v1/order", params)
        assert status == 400 and body["code"] == code, (params, body)
    assert (await _bn(http, sim, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 1}))[0] == 200
    status, body = await _bn(http, sim, "POST", "/fapi/v1/order", {**base, "type": "MARKET", "quantity": "11.000"})
    assert (status, body["code"]) == (400, -2019)
    bid = sim.truth.book("binance_usdm", "BTCUSDT", 1)[0][0][0]
    status, order = await _bn(http, sim, "POST", "/fapi/v1/order",
                              {**base, "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
                               "price": str(bid - 50), "newClientOrderId": "lim-1"})
    assert status == 200 and order["status"] == "NEW"
    status, body = await _bn(http, sim, "POST", "/fapi/v1/order",
                             {**base, "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
                              "price": str(bid - 50), "newClientOrderId": "lim-1"})
    assert body["code"] == -4116
    status, body = await _bn(http, sim, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "lim-1"})
    assert status == 200 and body["status"] == "CANCELED"
    status, body = await _bn(http, sim, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "lim-1"})
    assert (status, body["code"]) == (400, -2011)
    assert (await _bn(http, sim, "POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "CROSSED"}))[1]["code"] == -4046


async def test_upbit_rate_limit_429(env):
    sim, http = env
    statuses = []
    for _ in range(15):
        async with http.get(f"{sim.upbit_url}/v1/orderbook", params={"markets": "KRW-BTC"}) as r:
            statuses.append((r.status, r.headers.get("Remaining-Req")))
    assert statuses[0][0] == 200 and statuses[0][1].startswith("group=orderbook; min=")
    assert 429 in [s for s, _ in statuses]
    assert [s for s, _ in statuses].count(200) <= 10


async def test_binance_weight_429_then_418():
    async with SimulatorServer(seed=1, binance_weight_limit_1m=20) as sim, aiohttp.ClientSession() as http:
        seen = []
        for _ in range(20):
            async with http.get(f"{sim.binance_url}/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5}) as r:
                seen.append((r.status, int(r.headers["X-MBX-USED-WEIGHT-1M"])))
        statuses = [s for s, _ in seen]
        assert statuses[:10] == [200] * 10 and seen[0][1] == 2
        assert 429 in statuses and statuses[-1] == 418
        assert statuses.index(429) < statuses.index(418)
