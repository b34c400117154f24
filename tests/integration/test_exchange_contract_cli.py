"""`arbv2 order` against the simulator over HTTP: dry-run payloads, place, get, cancel, paper refusal."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal as D

import pytest

from arbv2.adapters.simulator import SimulatorServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim():
    """A simulator on its own event loop in a thread, so the CLI can run in subprocesses."""
    loop = asyncio.new_event_loop()
    server = SimulatorServer(seed=5, symbols=("BTC",))
    ready = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "simulator did not start"
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def cli(sim, *args, mode="sim"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARBV2_", "UPBIT_", "BINANCE_"))}
    env.update(ARBV2_MODE=mode, ARBV2_VENUES__UPBIT__REST_URL=sim.upbit_url,
               ARBV2_VENUES__BINANCE_USDM__REST_URL=sim.binance_url, ARBV2_SYMBOLS="BTC",
               UPBIT_ACCESS_KEY="sim-upbit-access", UPBIT_SECRET_KEY="sim-upbit-secret",
               BINANCE_API_KEY="sim-binance-key", BINANCE_API_SECRET="sim-binance-secret")
    return subprocess.run([sys.executable, "-m", "arbv2", "order", *args], capture_output=True, text=True,
                          env=env, timeout=60, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_dry_run_prints_payload_and_sends_nothing(sim):
    before = len(sim.truth.orders("binance_usdm"))
    r = cli(sim, "place", "--venue", "binance_usdm", "--symbol", "BTC", "--side", "sell", "--type", "limit",
            "--quantity", "0.0109", "--price", "150000.07", "--tif", "ioc", "--reduce-only",
            "--client-order-id", "fix-1", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC",
                                    "quantity": "0.010", "price": "150000.1", "reduceOnly": "true",
                                    "newClientOrderId": "fix-1", "newOrderRespType": "RESULT"}
    assert len(sim.truth.orders("binance_usdm")) == before


def test_place_get_cancel_over_http(sim):
    r = cli(sim, "place", "--venue", "upbit", "--symbol", "BTC/KRW", "--side", "buy", "--type", "market",
            "--quote-amount", "50000", "--client-order-id", "hand-1")
    assert r.returncode == 0, r.stderr
    order = json.loads(r.stdout)
    assert order["status"] == "filled" and D(order["filled_qty"]) > 0 and order["fills"]
    r = cli(sim, "get", "--venue", "upbit", "--symbol", "BTC", "--client-order-id", "hand-1")
    assert r.returncode == 0 and json.loads(r.stdout)["venue_order_id"] == order["venue_order_id"]
    r = cli(sim, "place", "--venue", "binance_usdm", "--symbol", "BTC", "--side", "buy", "--type", "limit",
            "--quantity", "0.002", "--price", "60000", "--client-order-id", "hand-2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "new"
    r = cli(sim, "cancel", "--venue", "binance_usdm", "--symbol", "BTC", "--client-order-id", "hand-2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "canceled"


def test_paper_mode_refuses_and_venue_errors_exit_1(sim):
    before = len(sim.truth.orders("upbit"))
    r = cli(sim, "place", "--venue", "upbit", "--symbol", "BTC", "--side", "buy", "--type", "market",
            "--quote-amount", "50000", mode="paper")
    assert r.returncode == 2 and "paper" in r.stderr
    assert len(sim.truth.orders("upbit")) == before
    r = cli(sim, "get", "--venue", "upbit", "--symbol", "BTC", "--client-order-id", "never")
    assert r.returncode == 1 and "UnknownOrder" in r.stderr
    r = cli(sim, "place", "--venue", "upbit", "--symbol", "BTC", "--side", "buy", "--type", "market",
            "--quote-amount", "1000")
    assert r.returncode == 1 and "minimum order total" in r.stderr
