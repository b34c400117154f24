"""HealthWatch.settle: a resync under way when a run ends gets a bounded grace; a dead book gets none."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from arbv2.app.runners import HealthWatch
from arbv2.core.model import Venue


class Books:
    """The market-data port's health(), with per-book synced flags a test flips."""

    def __init__(self) -> None:
        self.synced: dict[tuple[Venue, str], bool] = {}

    def health(self, venue: Venue, symbol: str) -> SimpleNamespace:
        return SimpleNamespace(synced=self.synced.get((venue, symbol), False))


def _watch() -> tuple[HealthWatch, Books]:
    books = Books()
    rt = SimpleNamespace(cfg=SimpleNamespace(symbols=("BTC",)), market_data=books)
    watch = HealthWatch(rt)
    for key in watch.books:
        books.synced[key] = True
    watch.sample()
    return watch, books


async def test_settle_waits_for_a_resync_under_way_then_passes():
    watch, books = _watch()
    dropped = watch.books[1]
    books.synced[dropped] = False                 # a drop on the run's last second

    async def resync() -> None:
        await asyncio.sleep(0.3)
        books.synced[dropped] = True

    task = asyncio.create_task(resync())
    t0 = time.monotonic()
    await watch.settle(5.0, every_s=0.02)
    assert 0.25 < time.monotonic() - t0 < 2.0     # waited for it, not for the whole grace
    await task
    assert watch.verdict() == (True, "all 2 books synced, and in sync at the end")


async def test_settle_gives_up_after_the_grace_and_names_the_stale_book():
    watch, books = _watch()
    books.synced[watch.books[0]] = False
    t0 = time.monotonic()
    await watch.settle(0.3, every_s=0.02)
    assert 0.3 <= time.monotonic() - t0 < 1.5
    assert watch.verdict() == (False, "not synced at the end: upbit BTC/KRW")


async def test_settle_does_not_wait_for_a_book_that_never_synced():
    books = Books()
    watch = HealthWatch(SimpleNamespace(cfg=SimpleNamespace(symbols=("BTC",)), market_data=books))
    books.synced[watch.books[0]] = True           # upbit synced; binance never did
    t0 = time.monotonic()
    await watch.settle(5.0, every_s=0.02)
    assert time.monotonic() - t0 < 0.2
    assert watch.verdict() == (False, "never synced: binance_usdm BTC/USDT:USDT")
