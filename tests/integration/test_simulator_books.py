"""The simulator's streams reproduce its book bit for bit (Binance diff + snapshot, Upbit frames)."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp
import pytest
import websockets

from arbv2.adapters.simulator import SimulatorServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim():
    async with SimulatorServer(seed=11, tick_interval_s=0.05) as s:
        yield s


async def _sync_binance_book(sim: SimulatorServer, ws_url: str, symbol: str, run_s: float):
    """Follow Binance's documented procedure; return the local book and the events applied."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    applied = 0
    async with websockets.connect(ws_url, max_size=None) as ws, aiohttp.ClientSession() as http:
        buffered = []
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        buffered.append(first.get("data", first))
        async with http.get(f"{sim.binance_url}/fapi/v1/depth", params={"symbol": symbol, "limit": 1000}) as r:
            assert r.status == 200
            snap = await r.json()
        last_id = snap["lastUpdateId"]
        for p, q in snap["bids"]:
            bids[Decimal(p)] = Decimal(q)
        for p, q in snap["asks"]:
            asks[Decimal(p)] = Decimal(q)
        prev_u = None
        loop = asyncio.get_running_loop()
        end = loop.time() + run_s
        paused = False
        while True:
            if buffered:
                ev = buffered.pop(0)
            else:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    if paused:
                        break
                    continue
                ev = msg.get("data", msg)
            if ev["u"] < last_id:
                continue
            if prev_u is None:
                assert ev["U"] <= last_id <= ev["u"], (ev["U"], last_id, ev["u"])
            else:
                assert ev["pu"] == prev_u, "gap in the diff stream"
            prev_u = ev["u"]
            for side, book in (("b", bids), ("a", asks)):
                for p, q in ev[side]:
                    if Decimal(q) == 0:
                        book.pop(Decimal(p), None)
                    else:
                        book[Decimal(p)] = Decimal(q)
            applied += 1
            if not paused and loop.time() > end:
                sim.pause_market()
                paused = True
    return bids, asks, applied


@pytest.mark.parametrize("path", ["/public/stream?streams=btcusdt@depth@100ms", "/ws/ethusdt@depth@100ms",
                                  "/stream?streams=xrpusdt@depth"])
async def test_binance_diff_stream_reproduces_book(sim, path):
    symbol = path.split("=")[-1].split("@")[0].split("/")[-1].upper()
    bids, asks, applied = await _sync_binance_book(sim, sim.binance_ws_url + path, symbol, 1.5)
    assert applied >= 3
    t_bids, t_asks = sim.truth.book("binance_usdm", symbol, depth=10_000)
    assert sorted(bids.items(), reverse=True) == t_bids
    assert sorted(asks.items()) == t_asks
    assert t_bids[0][0] < t_asks[0][0]


async def test_upbit_frames_match_truth_and_rest(sim):
    req = [{"ticket": "t1"}, {"type": "orderbook", "codes": ["KRW-BTC", "KRW-USDT.15"]}, {"format": "SIMPLE"}]
    last: dict[str, dict] = {}
    kinds = []
    async with websockets.connect(sim.upbit_ws_url, max_size=None) as ws:
        await ws.send(json.dumps(req))
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        while loop.time() < end:
            raw = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(raw, bytes), "Upbit sends binary frames"
            msg = json.loads(raw.decode("utf-8"))
            kinds.append((msg["cd"], msg["st"]))
            last[msg["cd"]] = msg
        sim.pause_market()
        try:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.4))
                last[msg["cd"]] = msg
        except asyncio.TimeoutError:
            pass
    assert kinds[0][1] == "SNAPSHOT" and kinds[1][1] == "SNAPSHOT"
    assert any(st == "REALTIME" for _, st in kinds)
    for code, depth in (("KRW-BTC", 30), ("KRW-USDT", 15)):
        units = last[code]["obu"]
        assert len(units) == depth
        t_bids, t_asks = sim.truth.book("upbit", code, depth=depth)
        assert [(Decimal(str(u["bp"])), Decimal(str(u["bs"]))) for u in units] == t_bids
        assert [(Decimal(str(u["ap"])), Decimal(str(u["as"]))) for u in units] == t_asks
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.upbit_url}/v1/orderbook", params={"markets": "KRW-BTC,KRW-USDT"}) as r:
            assert r.status == 200
            assert "group=orderbook" in r.headers["Remaining-Req"]
            rest = await r.json()
    assert [b["market"] for b in rest] == ["KRW-BTC", "KRW-USDT"]
    assert rest[0]["orderbook_units"] == [{k: u[k] for k in ("ask_price", "bid_price", "ask_size", "bid_size")}
                                          for u in sim.upbit_hub.orderbook_obj("KRW-BTC", 30, 0, "x")["orderbook_units"]]


async def test_upbit_ping_and_errors(sim):
    async with websockets.connect(sim.upbit_ws_url) as ws:
        await ws.send("PING")
        assert json.loads(await asyncio.wait_for(ws.recv(), 2)) == {"status": "UP"}
        await ws.send(json.dumps([{"type": "orderbook", "codes": ["KRW-BTC"]}]))
        assert json.loads(await asyncio.wait_for(ws.recv(), 2))["error"]["name"] == "NO_TICKET"
        await ws.send("{not json")
        assert json.loads(await asyncio.wait_for(ws.recv(), 2))["error"]["name"] == "WRONG_FORMAT"


async def test_prices_on_venue_grids(sim):
    await asyncio.sleep(0.3)
    from arbv2.adapters.simulator.specs import on_krw_grid
    for code in ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-USDT"):
        bids, asks = sim.truth.book("upbit", code, 40)
        assert all(on_krw_grid(p) for p, _ in bids + asks), code
    for sym, tick in (("BTCUSDT", Decimal("0.1")), ("ETHUSDT", Decimal("0.01")), ("XRPUSDT", Decimal("0.0001"))):
        bids, asks = sim.truth.book("binance_usdm", sym, 200)
        assert all(p % tick == 0 for p, _ in bids + asks), sym
        assert bids[0][0] < asks[0][0]
