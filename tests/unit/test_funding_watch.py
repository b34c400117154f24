"""FundingWatch (arbv2/app/funding.py): rates refreshed with the last value kept on failure (logged
once per outage), FUNDING_FEE payments booked once each across overlapping polls and pages, the
high-water mark, unknown symbols, and the task loop (payments off in paper mode)."""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from arbv2.adapters.common.clock import SystemClock
from arbv2.app import funding as funding_mod
from arbv2.app.funding import FundingWatch


class FakeBinance:
    def __init__(self) -> None:
        self.rates: dict[str, str] = {"BTCUSDT": "0.0001", "ETHUSDT": "-0.0002"}
        self.down: set[str] = set()
        self.ledger: list[dict] = []
        self.income_down = False
        self.income_calls: list[tuple] = []

    async def premium_index(self, symbol: str) -> dict:
        sym = symbol.replace("/USDT:USDT", "USDT")
        if sym in self.down:
            raise ConnectionError(f"{sym} down")
        return {"symbol": sym, "lastFundingRate": self.rates[sym]}

    async def income(self, income_type=None, start_ms=None, limit=1000) -> list[dict]:
        self.income_calls.append((income_type, start_ms, limit))
        if self.income_down:
            raise ConnectionError("income down")
        rows = sorted((e for e in self.ledger if start_ms is None or e["time"] >= start_ms),
                      key=lambda e: (e["time"], e["tranId"]))
        return [dict(e) for e in rows[:limit]]

    def pay(self, symbol: str, amount: str, t: int, tran_id: int) -> None:
        self.ledger.append({"symbol": symbol, "incomeType": "FUNDING_FEE", "income": Decimal(amount),
                            "asset": "USDT", "time": t, "tranId": tran_id, "info": "FUNDING_FEE", "tradeId": ""})


class Booked:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Decimal]] = []

    def __call__(self, base: str, amount: Decimal) -> None:
        self.calls.append((base, amount))


def _warnings(caplog, text: str) -> int:
    return sum(1 for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage())


async def test_rates_refresh_keep_the_last_value_and_log_once_per_outage(caplog):
    bn = FakeBinance()
    w = FundingWatch(bn, ("BTC", "ETH"), start_ms=0, payments=True)
    assert w("BTC") == 0.0
    await w.refresh_rates()
    assert (w("BTC"), w("ETH")) == (0.0001, -0.0002)
    bn.rates["BTCUSDT"], bn.rates["ETHUSDT"] = "0.0003", "0.0004"
    bn.down = {"BTCUSDT"}
    caplog.set_level(logging.INFO, logger="arbv2.app.funding")
    for _ in range(3):
        await w.refresh_rates()
    assert (w("BTC"), w("ETH")) == (0.0001, 0.0004)          # BTC kept its last value, ETH moved
    assert _warnings(caplog, "funding rate for BTC unavailable") == 1
    assert "keeping 0.0001" in caplog.text
    bn.down = set()
    await w.refresh_rates()
    assert w("BTC") == 0.0003 and "available again" in caplog.text
    bn.down = {"BTCUSDT"}
    await w.refresh_rates()
    assert _warnings(caplog, "funding rate for BTC unavailable") == 2   # a new outage is said again


async def test_a_symbol_never_read_is_zero_and_said_once(caplog):
    bn = FakeBinance()
    bn.down = {"ETHUSDT"}
    w = FundingWatch(bn, ("BTC", "ETH"), start_ms=0, payments=True)
    await w.refresh_rates()
    await w.refresh_rates()
    assert w("ETH") == 0.0 and _warnings(caplog, "funding rate for ETH unavailable (ETHUSDT down); assuming 0") == 1


async def test_payments_are_booked_once_across_polls_from_the_high_water_mark():
    bn, booked = FakeBinance(), Booked()
    w = FundingWatch(bn, ("BTC", "ETH"), start_ms=1_000, payments=True)
    bn.pay("BTCUSDT", "1.5", 900, 1)             # before the runtime opened: not this run's
    bn.pay("BTCUSDT", "2.25", 2_000, 2)
    assert await w.poll_payments(booked) == 1
    assert booked.calls == [("BTC", Decimal("2.25"))] and bn.income_calls[-1] == ("FUNDING_FEE", 1_000, 1000)
    bn.pay("ETHUSDT", "-0.75", 2_000, 3)         # same settlement time, shows up a poll later
    assert await w.poll_payments(booked) == 1
    assert bn.income_calls[-1][1] == 2_000       # the page starts at the mark, inclusive
    assert await w.poll_payments(booked) == 0    # nothing new: nothing booked twice
    bn.pay("BTCUSDT", "0.5", 3_000, 4)
    bn.pay("ETHUSDT", "-0.25", 3_000, 5)
    assert await w.poll_payments(booked) == 2
    assert booked.calls == [("BTC", Decimal("2.25")), ("ETH", Decimal("-0.75")),
                            ("BTC", Decimal("0.5")), ("ETH", Decimal("-0.25"))]
    assert w.booked == 4 and w.high_water_ms == 3_000


async def test_more_than_a_page_is_read_in_pages(monkeypatch):
    monkeypatch.setattr(funding_mod, "PAGE", 10)
    bn, booked = FakeBinance(), Booked()
    w = FundingWatch(bn, ("BTC",), start_ms=0, payments=True)
    for i in range(25):
        bn.pay("BTCUSDT", "0.01", 100 + i // 2, i)       # two payments per ms: pages split a timestamp
    assert await w.poll_payments(booked) == 25
    assert len(bn.income_calls) >= 3
    assert sum(a for _, a in booked.calls) == Decimal("0.25")
    assert await w.poll_payments(booked) == 0


async def test_failed_reads_and_unknown_symbols(caplog):
    bn, booked = FakeBinance(), Booked()
    w = FundingWatch(bn, ("BTC",), start_ms=0, payments=True)
    bn.pay("BTCUSDT", "1", 10, 1)
    bn.pay("DOGEUSDT", "7", 10, 2)
    bn.income_down = True
    assert await w.poll_payments(booked) == 0 and await w.poll_payments(booked) == 0
    assert _warnings(caplog, "funding payments unavailable") == 1 and w.high_water_ms == 0
    bn.income_down = False
    assert await w.poll_payments(booked) == 1 and booked.calls == [("BTC", Decimal(1))]
    assert _warnings(caplog, "DOGEUSDT, which is not a configured symbol") == 1
    bn.pay("DOGEUSDT", "7", 11, 3)
    assert await w.poll_payments(booked) == 0
    assert _warnings(caplog, "DOGEUSDT, which is not a configured symbol") == 1


class FakeEngine:
    def __init__(self, watch: FundingWatch) -> None:
        self.watch = watch
        self.seen: list[float] = []
        self.booked = Booked()

    def refresh_funding(self) -> None:
        self.seen.append(self.watch("BTC"))

    def on_funding(self, base: str, amount: Decimal) -> None:
        self.booked(base, amount)


async def _run_for(watch: FundingWatch, engine: FakeEngine, seconds: float) -> None:
    task = asyncio.get_running_loop().create_task(watch.run(engine, 0.01, SystemClock()))
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()


async def test_the_task_refreshes_rates_into_the_engine_and_books_payments():
    bn = FakeBinance()
    w = FundingWatch(bn, ("BTC",), start_ms=0, payments=True)
    engine = FakeEngine(w)
    bn.rates["BTCUSDT"] = "0.0005"
    bn.pay("BTCUSDT", "3", 5, 1)
    await _run_for(w, engine, 0.1)
    assert engine.seen and engine.seen[-1] == 0.0005
    assert engine.booked.calls == [("BTC", Decimal(3))]


async def test_paper_mode_refreshes_rates_but_reads_no_payments():
    bn = FakeBinance()
    w = FundingWatch(bn, ("BTC",), start_ms=0, payments=False)
    engine = FakeEngine(w)
    bn.pay("BTCUSDT", "3", 5, 1)
    await _run_for(w, engine, 0.1)
    assert engine.seen and engine.seen[-1] == 0.0001
    assert bn.income_calls == [] and engine.booked.calls == []


async def test_a_failing_round_does_not_end_the_task(caplog):
    bn = FakeBinance()
    w = FundingWatch(bn, ("BTC",), start_ms=0, payments=True)
    engine = FakeEngine(w)
    calls = []

    def boom() -> None:
        calls.append(1)
        raise RuntimeError("engine said no")

    engine.refresh_funding = boom
    await _run_for(w, engine, 0.1)
    assert len(calls) >= 2 and "funding refresh failed" in caplog.text
