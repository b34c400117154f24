"""The simulator sustains at least 2,000 WebSocket frames/s per venue without its market loop lagging."""
from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from arbv2.adapters.simulator import SimulatorServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLIENTS = 12
WINDOW_S = 3.0


async def _count(url: str, first: str | None, stop: asyncio.Event, counter: list[int]) -> None:
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        if first:
            await ws.send(first)
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            counter[0] += 1


async def test_frames_per_second_per_venue():
    async with SimulatorServer(seed=4, tick_interval_s=0.02) as sim:
        up_sub = json.dumps([{"ticket": "tp"}, {"type": "orderbook", "codes": ["KRW-BTC", "KRW-ETH", "KRW-XRP",
                                                                                  "KRW-USDT"]},
                             {"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-USDT"]}])
        streams = "/".join(f"{s}@depth@100ms/{s}@bookTicker" for s in ("btcusdt", "ethusdt", "xrpusdt"))
        counts = {"upbit": [0], "binance_usdm": [0]}
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_count(sim.upbit_ws_url, up_sub, stop, counts["upbit"])) for _ in range(CLIENTS)]
        tasks += [asyncio.create_task(_count(f"{sim.binance_ws_url}/public/stream?streams={streams}", None, stop,
                                             counts["binance_usdm"])) for _ in range(CLIENTS)]
        await asyncio.sleep(1.0)                           # connect and warm up
        start = {v: c[0] for v, c in counts.items()}
        await asyncio.sleep(WINDOW_S)
        rates = {v: (c[0] - start[v]) / WINDOW_S for v, c in counts.items()}
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        print(f"frames/s received: {rates}, tick lag {sim.metrics.tick_lag._value.get():.4f}s")
        assert rates["upbit"] >= 2000, rates
        assert rates["binance_usdm"] >= 2000, rates
        assert sim.metrics.tick_lag._value.get() < 0.25       # the market loop kept its schedule
