"""Funding on the simulated Binance USDⓈ-M venue, over real HTTP: settlement every
`funding_interval_s` at the model's rate (payment = -positionAmt x mark x rate, 8 decimals, longs
pay a positive rate), the USDT wallet moved by exactly the recorded amounts, premiumIndex's
nextFundingTime on the settlement schedule, GET /fapi/v1/income (fields, weight 30, filters,
errors), and BinanceUsdmAdapter.income over it."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest

from arbv2.adapters.binance.exchange import BinanceUsdmAdapter
from arbv2.adapters.simulator import SimAccount, SimulatorServer
from arbv2.core.config import BinanceConfig, Config, Secrets, VenuesConfig

pytestmark = pytest.mark.integration
BN_KEY, BN_SECRET = "sim-binance-key", "sim-binance-secret"
OTHER_KEY, OTHER_SECRET = "sim-binance-other", "sim-binance-other-secret"
FIELDS = {"symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId"}
Q8 = Decimal("0.00000001")
START_USDT = Decimal(1_000_000)


def bn_query(params: dict, secret: str = BN_SECRET) -> str:
    qs = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return qs + "&signature=" + hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()


async def call(http, sim, method: str, path: str, params: dict, key: str = BN_KEY, secret: str = BN_SECRET):
    async with http.request(method, f"{sim.binance_url}{path}?{bn_query(params, secret)}",
                            headers={"X-MBX-APIKEY": key}) as r:
        return r.status, await r.json(), int(r.headers["X-MBX-USED-WEIGHT-1M"])


async def income(http, sim, params: dict, **kw) -> list[dict]:
    status, body, _ = await call(http, sim, "GET", "/fapi/v1/income", params, **kw)
    assert status == 200, body
    return body


async def market(http, sim, side: str, qty: str, symbol: str, key: str = BN_KEY, secret: str = BN_SECRET):
    status, order, _ = await call(http, sim, "POST", "/fapi/v1/order",
                                  {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty,
                                   "newOrderRespType": "RESULT"}, key=key, secret=secret)
    assert status == 200 and order["status"] == "FILLED", order
    return order


def accounts() -> list[SimAccount]:
    return [SimAccount("binance_usdm", BN_KEY, BN_SECRET, {"USDT": START_USDT}),
            SimAccount("binance_usdm", OTHER_KEY, OTHER_SECRET, {"USDT": START_USDT}),
            SimAccount("upbit", "sim-upbit-access", "sim-upbit-secret", {"KRW": Decimal(1_000_000)})]


async def wait_for(pred, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def expected(sim, symbol: str, amount: Decimal, rate: Decimal) -> Decimal:
    return (-amount * sim.binance.mark(symbol) * rate).quantize(Q8, "ROUND_HALF_UP")


async def test_settles_every_interval_at_the_models_rate_and_moves_the_wallet_exactly():
    async with SimulatorServer(seed=5, tick_interval_s=0.05, accounts=accounts(), funding_interval_s=0.5) as sim, \
            aiohttp.ClientSession() as http:
        sim.pause_market()                        # marks stay put between settlements
        sim.model.params.funding_rate = 0.0003
        await market(http, sim, "SELL", "0.500", "BTCUSDT")      # short: receives a positive rate
        await market(http, sim, "BUY", "2.000", "ETHUSDT")       # long: pays it
        await market(http, sim, "BUY", "0.100", "BTCUSDT", key=OTHER_KEY, secret=OTHER_SECRET)
        await market(http, sim, "SELL", "0.100", "BTCUSDT", key=OTHER_KEY, secret=OTHER_SECRET)   # flat again
        n0 = len(sim.truth.income(BN_KEY, "FUNDING_FEE"))
        after_fills = sim.truth.balances("binance_usdm", BN_KEY)["USDT"]
        assert after_fills == START_USDT - sum(f["fee"] for f in sim.truth.fills("binance_usdm")
                                                if f["api_key"] == BN_KEY)
        await wait_for(lambda: len(sim.truth.income(BN_KEY, "FUNDING_FEE")) >= n0 + 4)
        paid = sim.truth.income(BN_KEY, "FUNDING_FEE")[n0:]           # read together with the wallet
        wallet = sim.truth.balances("binance_usdm", BN_KEY)["USDT"]
        assert wallet == after_fills + sum(e["income"] for e in paid)
        rate = Decimal("0.0003")
        btc = [e for e in paid if e["symbol"] == "BTCUSDT"]
        eth = [e for e in paid if e["symbol"] == "ETHUSDT"]
        assert btc and eth and len(btc) + len(eth) == len(paid)
        assert all(e["income"] == expected(sim, "BTCUSDT", Decimal("-0.5"), rate) > 0 for e in btc)
        assert all(e["income"] == expected(sim, "ETHUSDT", Decimal("2"), rate) < 0 for e in eth)
        times = sorted({e["time"] for e in paid})
        assert all(t % 500 == 0 for t in times) and all(b - a == 500 for a, b in zip(times, times[1:]))
        assert len({e["tran_id"] for e in paid}) == len(paid)
        assert sim.truth.income(OTHER_KEY, "FUNDING_FEE") == []     # a flat account pays nothing
        # premiumIndex announces the next settlement; a negative rate makes the short pay
        sim.model.params.funding_rate = -0.0002
        status, pi, _ = await call(http, sim, "GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"})
        assert status == 200 and pi["lastFundingRate"] == "-0.00020000"
        nxt = pi["nextFundingTime"]
        assert nxt % 500 == 0 and pi["time"] < nxt <= pi["time"] + 500
        await wait_for(lambda: any(e["time"] == nxt for e in sim.truth.income(BN_KEY, "FUNDING_FEE")))
        at_next = {e["symbol"]: e["income"] for e in sim.truth.income(BN_KEY, "FUNDING_FEE") if e["time"] == nxt}
        assert at_next == {"BTCUSDT": expected(sim, "BTCUSDT", Decimal("-0.5"), Decimal("-0.0002")),
                           "ETHUSDT": expected(sim, "ETHUSDT", Decimal("2"), Decimal("-0.0002"))}
        assert at_next["BTCUSDT"] < 0 < at_next["ETHUSDT"]


@pytest.fixture
async def ledger():
    """A simulator whose automatic settlement is off, with three settlements made by hand."""
    async with SimulatorServer(seed=5, tick_interval_s=0.05, accounts=accounts()) as sim, \
            aiohttp.ClientSession() as http:
        sim.pause_market()
        sim.next_funding_ms = 2 ** 62
        await market(http, sim, "SELL", "0.500", "BTCUSDT")
        await market(http, sim, "BUY", "2.000", "ETHUSDT")
        now = int(time.time() * 1000)
        t1, t2, t3 = now - 3000, now - 2000, now - 1000
        for t, rate in ((t1, "0.0001"), (t2, "0.0002"), (t3, "-0.0001")):
            sim.binance.settle_funding(Decimal(rate), t)
        yield sim, http, (t1, t2, t3)


async def test_income_fields_weight_and_filters(ledger):
    sim, http, (t1, t2, t3) = ledger
    _, _, used_before = await call(http, sim, "GET", "/fapi/v1/time", {})
    status, funding, used_after = await call(http, sim, "GET", "/fapi/v1/income", {"incomeType": "FUNDING_FEE"})
    assert status == 200 and used_after - used_before == 30
    assert [set(e) for e in funding] == [FIELDS] * 6
    assert [e["time"] for e in funding] == [t1, t1, t2, t2, t3, t3]                # oldest first
    truth = sorted(sim.truth.income(BN_KEY, "FUNDING_FEE"), key=lambda e: (e["time"], e["tran_id"]))
    for e, t in zip(funding, truth):
        assert isinstance(e["income"], str) and isinstance(e["tranId"], int) and isinstance(e["time"], int)
        assert (e["incomeType"], e["asset"], e["tradeId"], e["info"]) == ("FUNDING_FEE", "USDT", "", "FUNDING_FEE")
        assert (e["symbol"], Decimal(e["income"]), e["tranId"]) == (t["symbol"], t["income"], t["tran_id"])
        assert e["income"] == format(t["income"].quantize(Q8), "f")
    signs = {(e["symbol"], e["time"]): Decimal(e["income"]) for e in funding}
    assert signs[("BTCUSDT", t1)] > 0 and signs[("ETHUSDT", t1)] < 0          # short receives a positive rate
    assert signs[("BTCUSDT", t3)] < 0 and signs[("ETHUSDT", t3)] > 0          # and pays a negative one
    # no type: commissions of the fills too (tradeId = the trade), newest last
    everything = await income(http, sim, {})
    assert {e["incomeType"] for e in everything} == {"FUNDING_FEE", "COMMISSION"}
    trade_ids = {str(f["trade_id"]) for f in sim.truth.fills("binance_usdm")}
    assert all(e["tradeId"] in trade_ids and Decimal(e["income"]) < 0
               for e in everything if e["incomeType"] == "COMMISSION")
    assert await income(http, sim, {"incomeType": "COMMISSION"}) == [e for e in everything
                                                                    if e["incomeType"] == "COMMISSION"]
    btc = await income(http, sim, {"incomeType": "FUNDING_FEE", "symbol": "BTCUSDT"})
    assert [e["time"] for e in btc] == [t1, t2, t3] and {e["symbol"] for e in btc} == {"BTCUSDT"}
    # window: inclusive bounds; startTime pages from the oldest, no startTime gives the newest
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "startTime": t2}) == funding[2:]
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "endTime": t1}) == funding[:2]
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "startTime": t2, "endTime": t2}) == funding[2:4]
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "startTime": t3 + 1, "endTime": t3 + 500}) == []
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "startTime": t1, "limit": 3}) == funding[:3]
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "limit": 3}) == funding[-3:]
    # another account sees none of it
    assert await income(http, sim, {}, key=OTHER_KEY, secret=OTHER_SECRET) == []


async def test_income_default_limit_is_100_max_1000(ledger):
    sim, http, (t1, _, _) = ledger
    for i in range(60):                      # 120 more entries (two positions)
        sim.binance.settle_funding(Decimal("0.0001"), t1 - 10_000 + i)
    got = await income(http, sim, {"incomeType": "FUNDING_FEE"})
    assert len(got) == 100
    full = await income(http, sim, {"incomeType": "FUNDING_FEE", "limit": 1000})
    assert len(full) == 126 and got == full[-100:]
    assert await income(http, sim, {"incomeType": "FUNDING_FEE", "startTime": 0}) == full[:100]


@pytest.mark.parametrize("params,code", [
    ({"limit": 0}, -1130),
    ({"limit": 1001}, -1130),
    ({"incomeType": "NOT_A_TYPE"}, -1100),
    ({"symbol": "FOOUSDT"}, -1121),
    ({"startTime": "x1"}, -1100),
])
async def test_income_errors(ledger, params, code):
    sim, http, _ = ledger
    status, body, _ = await call(http, sim, "GET", "/fapi/v1/income", params)
    assert (status, body["code"]) == (400, code), body


async def test_income_needs_a_signature(ledger):
    sim, http, _ = ledger
    status, body, _ = await call(http, sim, "GET", "/fapi/v1/income", {}, secret="wrong")
    assert (status, body["code"]) == (400, -1022)
    async with http.get(f"{sim.binance_url}/fapi/v1/income", headers={"X-MBX-APIKEY": BN_KEY}) as r:
        assert r.status == 400 and (await r.json())["code"] == -1102


async def test_adapter_income_over_the_simulator(ledger):
    sim, _, (t1, t2, t3) = ledger
    cfg = Config(mode="sim", venues=VenuesConfig(binance_usdm=BinanceConfig(rest_url=sim.binance_url)),
                 secrets=Secrets(binance_api_key=BN_KEY, binance_api_secret=BN_SECRET))
    ad = BinanceUsdmAdapter(cfg)
    try:
        await ad.sync_time()
        got = await ad.income()
        truth = sorted(sim.truth.income(BN_KEY, "FUNDING_FEE"), key=lambda e: (e["time"], e["tran_id"]))
        assert [(e["symbol"], e["incomeType"], e["income"], e["time"], e["tranId"], e["asset"]) for e in got] == \
            [(t["symbol"], "FUNDING_FEE", t["income"], t["time"], t["tran_id"], "USDT") for t in truth]
        assert all(isinstance(e["income"], Decimal) for e in got)
        assert [e["time"] for e in await ad.income(start_ms=t2)] == [t2, t2, t3, t3]
        assert [e["time"] for e in await ad.income(start_ms=t1, limit=1)] == [t1]
        assert [e["symbol"] for e in await ad.income(symbol="ETH")] == ["ETHUSDT"] * 3
        commissions = await ad.income("COMMISSION")
        assert commissions and all(e["incomeType"] == "COMMISSION" and e["income"] < 0 for e in commissions)
        assert {e["incomeType"] for e in await ad.income(None)} == {"FUNDING_FEE", "COMMISSION"}
    finally:
        await ad.close()
