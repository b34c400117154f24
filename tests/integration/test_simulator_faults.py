"""Each injected fault is visible to the client and counted in the simulator's /metrics."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import aiohttp
import pytest
import websockets

from arbv2.adapters.simulator import FaultPlan, SimulatorServer

pytestmark = pytest.mark.integration


async def fault_count(http: aiohttp.ClientSession, sim: SimulatorServer, venue: str, fault: str) -> float:
    async with http.get(f"{sim.binance_url}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("sim_faults_injected_total{") and f'fault="{fault}"' in line and f'venue="{venue}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def signed(params: dict) -> str:
    qs = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return qs + "&signature=" + hmac.new(b"sim-binance-secret", qs.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def env():
    async with SimulatorServer(seed=5, tick_interval_s=0.05) as sim, aiohttp.ClientSession() as http:
        yield sim, http


async def test_http_faults(env):
    sim, http = env
    sim.faults = FaultPlan(venues=("upbit",), http_5xx_share=1.0)
    async with http.get(f"{sim.upbit_url}/v1/market/all") as r:
        assert r.status == 503
    sim.faults = FaultPlan(venues=("binance_usdm",), http_429_share=1.0)
    async with http.get(f"{sim.binance_url}/fapi/v1/time") as r:
        assert r.status == 429 and (await r.json())["code"] == -1003
    sim.faults = FaultPlan(venues=("binance_usdm",), http_418_share=1.0)
    async with http.get(f"{sim.binance_url}/fapi/v1/time") as r:
        assert r.status == 418
    assert await fault_count(http, sim, "upbit", "http_5xx") == 1
    assert await fault_count(http, sim, "binance_usdm", "http_429") == 1
    assert await fault_count(http, sim, "binance_usdm", "http_418") == 1


async def test_clock_skew_and_admin_endpoint(env):
    sim, http = env
    async with http.post(f"{sim.upbit_url}/_sim/faults", json={"clock_skew_ms": 7000}) as r:
        assert r.status == 200 and (await r.json())["clock_skew_ms"] == 7000
    async with http.get(f"{sim.binance_url}/fapi/v1/time") as r:
        skew = (await r.json())["serverTime"] - time.time() * 1000
    assert 6000 < skew < 8000
    async with http.get(f"{sim.binance_url}/fapi/v2/balance?{signed({})}",
                        headers={"X-MBX-APIKEY": "sim-binance-key"}) as r:
        assert (await r.json())["code"] == -1021          # our clock is 7 s behind the venue's
    assert await fault_count(http, sim, "binance_usdm", "clock_skew") >= 2
    async with http.post(f"{sim.upbit_url}/_sim/faults", json={"bogus": 1}) as r:
        assert r.status == 400


async def test_order_faults(env):
    sim, http = env
    sim.pause_market()
    url = f"{sim.binance_url}/fapi/v1/order"
    hdr = {"X-MBX-APIKEY": "sim-binance-key"}
    sim.faults = FaultPlan(order_reject_share=1.0)
    async with http.post(f"{url}?{signed({'symbol': 'ETHUSDT', 'side': 'BUY', 'type': 'MARKET', 'quantity': '1.000'})}",
                         headers=hdr) as r:
        assert r.status == 400 and (await r.json())["code"] == -2010
    sim.faults = FaultPlan(partial_fill_share=1.0, partial_fill_ratio=0.5)
    q = signed({"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1.000", "newOrderRespType": "RESULT"})
    async with http.post(f"{url}?{q}", headers=hdr) as r:
        body = await r.json()
        assert body["status"] == "EXPIRED" and body["executedQty"] == "0.500"
    sim.faults = FaultPlan(order_timeout_share=1.0, order_timeout_s=1.0)
    q = signed({"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.500", "newClientOrderId": "slow-1"})
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.3):
            async with http.post(f"{url}?{q}", headers=hdr) as r:
                await r.read()
    assert any(o["client_order_id"] == "slow-1" and o["status"] == "FILLED" for o in sim.truth.orders("binance_usdm"))
    for fault in ("order_reject", "partial_fill", "order_timeout"):
        assert await fault_count(http, sim, "binance_usdm", fault) == 1, fault


async def test_ws_skip_diff_makes_a_pu_gap(env):
    sim, http = env
    sim.faults = FaultPlan(venues=("binance_usdm",), ws_skip_diff_every=3)
    gaps = 0
    async with websockets.connect(f"{sim.binance_ws_url}/public/ws/btcusdt@depth@100ms") as ws:
        prev = None
        for _ in range(8):
            ev = json.loads(await asyncio.wait_for(ws.recv(), 3))
            if prev is not None and ev["pu"] != prev:
                gaps += 1
            prev = ev["u"]
    assert gaps >= 1
    assert await fault_count(http, sim, "binance_usdm", "ws_skip_diff") >= gaps


async def test_ws_frame_faults(env):
    sim, http = env
    sim.faults = FaultPlan(venues=("binance_usdm",), ws_malformed_share=0.3, ws_delay_share=0.3, ws_delay_ms=5,
                           ws_reorder_share=0.3)
    bad = 0
    async with websockets.connect(f"{sim.binance_ws_url}/stream?streams=btcusdt@bookTicker/ethusdt@depth@100ms") as ws:
        for _ in range(40):
            try:
                json.loads(await asyncio.wait_for(ws.recv(), 3))
            except json.JSONDecodeError:
                bad += 1
    assert bad >= 1
    assert await fault_count(http, sim, "binance_usdm", "ws_malformed") == bad
    assert await fault_count(http, sim, "binance_usdm", "ws_delay") >= 1
    assert await fault_count(http, sim, "binance_usdm", "ws_reorder") >= 1


async def test_ws_drop_and_stall(env):
    sim, http = env
    sim.faults = FaultPlan(venues=("upbit",), ws_drop_every_s=0.6)
    sub = json.dumps([{"ticket": "x"}, {"type": "orderbook", "codes": ["KRW-BTC"]}])
    async with websockets.connect(sim.upbit_ws_url) as ws:
        await ws.send(sub)
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(3):
                while True:
                    await ws.recv()
    assert await fault_count(http, sim, "upbit", "ws_drop") >= 1
    sim.faults = FaultPlan(venues=("upbit",), ws_stall_every_s=0.3, ws_stall_s=0.8)
    async with websockets.connect(sim.upbit_ws_url) as ws:
        await ws.send(sub)
        await asyncio.wait_for(ws.recv(), 2)
        loop = asyncio.get_running_loop()
        longest, last = 0.0, loop.time()
        end = last + 2.0
        while loop.time() < end:
            await asyncio.wait_for(ws.recv(), 3)
            now = loop.time()
            longest, last = max(longest, now - last), now
    assert longest > 0.5, "a stall keeps the socket open but silent"
    assert await fault_count(http, sim, "upbit", "ws_stall") >= 1
