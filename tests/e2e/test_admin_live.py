"""Issue #9: the admin API drives a RUNNING engine.

The engine is the real one, in process: open_runtime (mode sim: the embedded simulator, the
signed adapters over HTTP to it, Redis state store under a fresh prefix, /metrics + /admin on
an ephemeral port, ARBV2_ADMIN_TOKEN in cfg.secrets) and the engine's own loop. Thresholds are
low so it trades within seconds. Effects are judged by what the engine and the simulator did,
not by the API's answers: round trips in the trade store, risk blocks by reason, the
simulator's positions and balances, the state store, a restart.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from decimal import Decimal

import aiohttp
import pytest
from required import tool

from arbv2.adapters.redis.state_store import RedisStateStore
from arbv2.app.runtime import open_runtime
from arbv2.core.config import load_config
from helpers_engine import TRADING, merge, running_engine, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "admin-live-token-4f1c9a"
ARBV2 = tool("arbv2")
SYMBOLS = ("BTC", "ETH", "XRP")
UPBIT_START = {"BTC": Decimal("1"), "ETH": Decimal("20"), "XRP": Decimal("50000")}   # simulator defaults
PERP_STEP = {"BTC": Decimal("0.001"), "ETH": Decimal("0.001"), "XRP": Decimal("0.1")}  # Binance lot steps


def _cfg(redis_url: str, prefix: str, token: str | None = TOKEN):
    env = {"REDIS_URL": redis_url, **({"ARBV2_ADMIN_TOKEN": token} if token else {})}
    overlay = merge(TRADING, {"mode": "sim", "symbols": list(SYMBOLS), "server": {"port": 0},
                              "market_data": {"source": "sim"}, "simulator": {"embedded": True},
                              "storage": {"redis_prefix": prefix}})
    return load_config(None, env=env, dotenv_path=None, overlay=overlay)


class Admin:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def call(self, method: str, path: str, body: dict | None = None, token: str | None = TOKEN
                   ) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, self.url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, doc = await self.call(method, path, body)
        assert status == 200, (method, path, status, doc)
        return doc


def _blocks(rt, reason: str) -> float:
    return rt.metrics.recorder.counters.get(("risk_blocks", (reason,)), 0.0)


async def _opened_since(rt, since_ns: int) -> list:
    return await rt.trade_store.trades(since_ns, time.time_ns() + 1)


async def _admin_cli(url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBV2_")}
    env["ARBV2_ADMIN_TOKEN"] = TOKEN
    proc = await asyncio.create_subprocess_exec(ARBV2, "admin", "--url", url, *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def admin_engine(redis_url, redis_prefix):
    async with running_engine(_cfg(redis_url, redis_prefix)) as rt:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            yield rt, Admin(session, rt.server_url)


async def test_status_auth_and_the_cli(admin_engine):
    rt, admin = admin_engine
    status = await admin.ok("GET", "/admin/status")
    assert status["mode"] == "sim"
    assert set(status["symbols"]) == set(SYMBOLS)
    assert status["health"]["ok"] is True and status["health"]["loop_running"] is True
    assert status["health"]["books"] == {b: {"upbit": True, "binance_usdm": True} for b in SYMBOLS}
    assert status["paused"] is False and status["kill_switch"] is False

    # no token / wrong token: 401 for reads and writes, and nothing changes
    for token in (None, "wrong-token"):
        code, doc = await admin.call("GET", "/admin/status", token=token)
        assert code == 401 and "token" in doc["error"]
        for method, path, body in (("POST", "/admin/pause", None), ("POST", "/admin/kill", {"flatten": False}),
                                   ("PUT", "/admin/thresholds", {"entry_edge_bps": 50})):
            code, doc = await admin.call(method, path, body, token=token)
            assert code == 401, (method, path, doc)
    assert rt.engine.paused is False and rt.engine.risk.kill_switch is False
    assert rt.engine.detector.thresholds("BTC")["entry_edge_bps"] == TRADING["strategy"]["entry_edge_bps"]
    assert await rt.state_store.get("thresholds") is None

    # the console script against the running engine prints the engine's status as JSON
    code, out, err = await _admin_cli(rt.server_url, "status")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "sim" and set(doc["symbols"]) == set(SYMBOLS) and doc["health"]["ok"] is True
    assert TOKEN not in out + err
    code, out, err = await _admin_cli(rt.server_url, "pause")
    assert code == 0 and json.loads(out)["paused"] is True and rt.engine.paused is True


async def test_pause_resume_thresholds_and_kill_with_flatten(admin_engine, redis_url, redis_prefix):
    rt, admin = admin_engine
    eng = rt.engine
    assert await wait_until(lambda: len(eng.reports) > 0, 40, "the engine's first execution")

    # pause: from the answer on, no round trip opens, while opportunities keep being blocked as paused
    await admin.ok("POST", "/admin/pause")
    paused_ns = time.time_ns()
    assert (await admin.ok("GET", "/admin/status"))["paused"] is True
    blocked0 = _blocks(rt, "paused")
    await wait_until(lambda: _blocks(rt, "paused") >= blocked0 + 3, 40, "3 opportunities blocked while paused")
    await asyncio.sleep(1.0)
    assert await _opened_since(rt, paused_ns) == []

    # resume: it trades again
    await admin.ok("POST", "/admin/resume")
    resumed_ns = time.time_ns()
    for _ in range(400):
        if await _opened_since(rt, resumed_ns):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"no round trip opened within 40 s of resume; blocks {eng.risk.blocks}")

    # thresholds: a 60 bps exit edge (hedges now stay open); visible in status, persisted, restored
    doc = await admin.ok("PUT", "/admin/thresholds", {"exit_edge_bps": 60, "entry_edge_bps": 3})
    assert doc["applied"] == {"exit_edge_bps": 60.0, "entry_edge_bps": 3.0}
    status = await admin.ok("GET", "/admin/status")
    for base in SYMBOLS:
        assert status["symbols"][base]["thresholds"]["exit_edge_bps"] == 60.0
        assert status["symbols"][base]["thresholds"]["entry_edge_bps"] == 3.0
    assert status["thresholds"]["strategy"]["exit_edge_bps"] == 60.0
    assert isinstance(rt.state_store, RedisStateStore)
    await wait_until(lambda: not [t for t in eng._aux if t.get_name() == "put-thresholds"], 10, "thresholds put")
    saved = await rt.state_store.get("thresholds")
    assert saved["strategy"]["exit_edge_bps"] == 60.0 and saved["strategy"]["entry_edge_bps"] == 3.0

    # kill with flatten while hedges are open: pause so none is mid-entry, then kill
    await wait_until(lambda: any(s.state.value == "hedged" for s in eng.slots.values()), 60, "an open hedge")
    await admin.ok("POST", "/admin/pause")
    await wait_until(lambda: eng.in_flight == 0, 30, "executions in flight to finish")
    hedged = sorted(b for b, s in eng.slots.items() if s.state.value == "hedged")
    assert hedged, "the hedge closed before the kill"
    perp = rt.sim.truth.positions("sim-binance-key")
    assert any(perp.get(f"{b}USDT") for b in hedged), perp      # the simulator holds the hedge
    doc = await admin.ok("POST", "/admin/kill", {"flatten": True})
    killed_ns = time.time_ns()
    assert doc["flatten"] is True and doc["result"]["kill_switch"] is True
    assert sorted(doc["result"]["flattening"]) == hedged and doc["result"]["refused"] == {}
    await wait_until(lambda: eng.in_flight == 0 and all(s.state.value == "flat" for s in eng.slots.values()),
                     30, "every symbol flat after the flatten")

    # at the simulator: the perp positions are gone and the Upbit coins are back, within one perp lot
    perp = rt.sim.truth.positions("sim-binance-key")
    upbit = rt.sim.truth.balances("upbit", "sim-upbit-access")
    for base in SYMBOLS:
        assert abs(perp.get(f"{base}USDT", Decimal(0))) < PERP_STEP[base], (base, perp)
        assert abs(upbit[base] - UPBIT_START[base]) < PERP_STEP[base], (base, upbit[base])
    status = await admin.ok("GET", "/admin/status")
    assert status["kill_switch"] is True
    for base, s in status["symbols"].items():
        assert s["state"] == "flat" and abs(Decimal(s["upbit_pos"])) < PERP_STEP[base], (base, s)

    # the kill switch holds: entries are refused as kill_switch, nothing opens
    await admin.ok("POST", "/admin/resume")
    killed_blocks = _blocks(rt, "kill_switch")
    await wait_until(lambda: _blocks(rt, "kill_switch") > killed_blocks, 40, "an entry refused by the kill switch")
    assert await _opened_since(rt, killed_ns) == []

    # a restart against the same state store comes up with the operator's thresholds
    async with open_runtime(_cfg(redis_url, redis_prefix), serve=False) as again:
        th = again.engine.detector.thresholds("ETH")
        assert (th["entry_edge_bps"], th["exit_edge_bps"]) == (3.0, 60.0)
