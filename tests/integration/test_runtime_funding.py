"""Funding through the whole runtime (open_runtime, mode sim, the embedded simulator settling
funding every 1.5 s, funding_refresh_s 0.3): with a BTC short and an ETH long opened through the
Binance adapter, the engine's portfolio funding equals the simulator's FUNDING_FEE income for the
account, symbol by symbol, and every payment is booked exactly once; the engine's funding rate
follows the venue's premiumIndex when the model's rate changes. In paper mode the rates are
refreshed but no payment is read."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import pytest

from arbv2.app import runtime
from arbv2.core.config import load_config
from arbv2.core.model import OrderIntent, Venue

pytestmark = pytest.mark.integration
BN_KEY = "sim-binance-key"


def _cfg(mode: str):
    return load_config(None, env={}, dotenv_path=None, overlay={
        "mode": mode, "symbols": ["BTC", "ETH"], "server": {"port": 0},
        "simulator": {"funding_interval_s": 1.5},
        "venues": {"binance_usdm": {"funding_refresh_s": 0.3}}})


async def _until(pred, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _market(base: str, side: str, qty: str, cid: str) -> OrderIntent:
    return OrderIntent(venue="binance_usdm", symbol=f"{base}/USDT:USDT", side=side, order_type="market",
                       quantity=Decimal(qty), quote_amount=None, price=None, client_order_id=cid)


async def test_engine_books_each_funding_payment_of_the_venue_once():
    async with runtime.open_runtime(_cfg("sim"), serve=False) as rt:
        sim, engine, binance = rt.sim, rt.engine, rt.venue_adapters[Venue.BINANCE_USDM]
        assert rt.funding is not None and rt.funding.payments
        calls: list[tuple[str, Decimal]] = []
        real = engine.on_funding

        def spy(base: str, amount: Decimal) -> None:
            calls.append((base, amount))
            real(base, amount)

        engine.on_funding = spy
        sim.model.params.funding_rate = 0.0004
        short = await binance.submit(_market("BTC", "sell", "0.050", "fund-btc"))
        long_ = await binance.submit(_market("ETH", "buy", "1.000", "fund-eth"))
        assert short.status.value == "filled" and long_.status.value == "filled", (short, long_)

        def paid() -> list[dict]:
            return sim.truth.income(BN_KEY, "FUNDING_FEE")

        await _until(lambda: len({e["time"] for e in paid()}) >= 2, 10.0)
        # the venue's rate changes: the engine's estimate follows within a refresh
        sim.model.params.funding_rate = -0.0003
        await _until(lambda: engine.funding_rate("BTC") == -0.0003, 3.0)
        assert engine.detector.thresholds("BTC")["funding_bps"] == pytest.approx(-3.0)
        await _until(lambda: any(e["income"] < 0 and e["symbol"] == "BTCUSDT" for e in paid()), 5.0)
        sim.next_funding_ms = 2 ** 62                      # no more settlements: let the poller catch up
        truth = paid()
        await _until(lambda: len(calls) >= len(truth), 3.0)
        await asyncio.sleep(0.7)                           # two more polls: nothing may be booked twice
        assert len(truth) >= 6
        bases = {"BTCUSDT": "BTC", "ETHUSDT": "ETH"}
        assert Counter(calls) == Counter((bases[e["symbol"]], e["income"]) for e in truth)
        assert len(calls) == len(truth) == rt.funding.booked
        signs = {(e["symbol"], e["income"] > 0) for e in truth}
        assert {("BTCUSDT", True), ("BTCUSDT", False), ("ETHUSDT", True), ("ETHUSDT", False)} <= signs
        for sym, base in bases.items():
            want = sum((e["income"] for e in truth if e["symbol"] == sym), Decimal(0))
            assert engine.portfolio.position(Venue.BINANCE_USDM, f"{base}/USDT:USDT").funding == want
            row = next(p for p in engine.status()["positions"] if p["symbol"] == f"{base}/USDT:USDT")
            assert Decimal(row["funding"]) == want
        total = sum((e["income"] for e in truth), Decimal(0))
        assert engine.portfolio.totals_krw(Decimal(1400))["funding_krw"] == total * 1400


async def test_paper_mode_refreshes_rates_and_books_no_payment():
    async with runtime.open_runtime(_cfg("paper"), serve=False) as rt:
        assert rt.funding is not None and not rt.funding.payments
        rt.sim.model.params.funding_rate = 0.0007
        await _until(lambda: rt.engine.funding_rate("ETH") == 0.0007, 3.0)
        assert rt.engine.detector.thresholds("ETH")["funding_bps"] == pytest.approx(7.0)
        assert all(p.funding == 0 for p in rt.engine.portfolio.positions())
