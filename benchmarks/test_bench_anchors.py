"""Optional comparison: arbv2's book vs nautilus-trader's OrderBook and the `order-book` package.

Same seeded stream, same mixed workload (every delta; every 10 deltas a top-of-book read and a
buy and a sell walk of WALK_BASE), same run. arbv2 must be at least ANCHOR_MIN_SPEEDUP faster
than each. Skipped when the packages (pyproject's `anchors` extra) are not installed.
nautilus is fed prebuilt BookOrder objects (its best case; building Price/Quantity from floats
per delta roughly triples its cost); order-book gets floats, as its API takes them.
"""
from __future__ import annotations

import pytest
from budgets import ANCHOR_MIN_SPEEDUP
from streams import MIXED_EVERY, WALK_BASE, fresh_book, kernel_median_ns, median_round_ns, run_mixed

from arbv2._fast import book as fast_book

ROUNDS = 5
OURS_ROUNDS = 9
pytestmark = pytest.mark.benchmark(group="anchors", warmup=False)


def _gate(benchmark, name: str, stream) -> None:
    anchor = kernel_median_ns(benchmark)
    if anchor is None:
        return
    ours = median_round_ns(run_mixed, lambda: ((fresh_book(fast_book, stream), stream.rows), {}), OURS_ROUNDS)
    n = len(stream.rows)
    benchmark.extra_info.update(anchor_ns_per_delta=round(anchor / n, 1),
                                arbv2_ns_per_delta=round(ours / n, 1), speedup=round(anchor / ours, 2))
    assert anchor / ours >= ANCHOR_MIN_SPEEDUP, f"{name}: {anchor / n:.0f} ns vs arbv2 {ours / n:.0f} ns per delta"


def _arbv2_top(stream):
    book = fresh_book(fast_book, stream)
    run_mixed(book, stream.rows)
    return book.best_bid()[0], book.best_ask()[0], book.vwap_base("buy", WALK_BASE)[0]


def test_vs_nautilus_trader_orderbook(benchmark, stream):
    pytest.importorskip("nautilus_trader")
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import BookOrder
    from nautilus_trader.model.enums import BookType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    iid = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
    sides = (OrderSide.BUY, OrderSide.SELL)

    def order(side, price, qty):
        return BookOrder(sides[side], Price(price, 1), Quantity(qty, 3), 0)

    bp, bq, ap, aq = stream.snapshot
    snapshot = [order(0, p, q) for p, q in zip(bp, bq)] + [order(1, p, q) for p, q in zip(ap, aq)]
    deltas = [(order(s, p, q), q == 0.0) for s, p, q in stream.rows]
    walk_qty = Quantity(WALK_BASE, 3)

    def setup():
        book = OrderBook(iid, BookType.L2_MBP)
        for seq, o in enumerate(snapshot):
            book.update(o, 0, 0, seq)
        return (book,), {}

    def run(book):
        update, delete, i = book.update, book.delete, 0
        for seq, (o, is_delete) in enumerate(deltas, len(snapshot)):
            (delete if is_delete else update)(o, 0, 0, seq)
            i += 1
            if i == MIXED_EVERY:
                i = 0
                book.best_bid_price(), book.best_bid_size(), book.best_ask_price(), book.best_ask_size()
                book.get_avg_px_for_quantity(walk_qty, OrderSide.BUY)
                book.get_avg_px_for_quantity(walk_qty, OrderSide.SELL)
        return book

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS)
    book = run(setup()[0][0])
    bid, ask, vwap = _arbv2_top(stream)
    top = (book.best_bid_price().as_double(), book.best_ask_price().as_double())
    assert top == pytest.approx((bid, ask), rel=1e-12)           # nautilus rounds to the 0.1 tick
    assert book.get_avg_px_for_quantity(walk_qty, OrderSide.BUY) == pytest.approx(vwap, rel=1e-9)
    _gate(benchmark, "nautilus_trader", stream)


def _ob_walk(levels, want: float) -> float:
    got = cost = 0.0
    i = 0
    while got < want:
        try:
            price, qty = levels.index(i)
        except IndexError:
            break
        take = min(qty, want - got)
        got += take
        cost += take * price
        i += 1
    return cost / got


def test_vs_order_book_package(benchmark, stream):
    order_book = pytest.importorskip("order_book")

    def setup():
        book = order_book.OrderBook()
        bp, bq, ap, aq = stream.snapshot
        for p, q in zip(bp.tolist(), bq.tolist()):
            book.bids[p] = q
        for p, q in zip(ap.tolist(), aq.tolist()):
            book.asks[p] = q
        return (book,), {}

    def run(book):
        sides, i = (book.bids, book.asks), 0
        for side, price, qty in stream.rows:
            if qty == 0.0:
                del sides[side][price]
            else:
                sides[side][price] = qty
            i += 1
            if i == MIXED_EVERY:
                i = 0
                book.bids.index(0), book.asks.index(0)
                _ob_walk(book.asks, WALK_BASE)
                _ob_walk(book.bids, WALK_BASE)
        return book

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS)
    book = run(setup()[0][0])
    bid, ask, vwap = _arbv2_top(stream)
    assert (book.bids.index(0)[0], book.asks.index(0)[0]) == (bid, ask)
    assert _ob_walk(book.asks, WALK_BASE) == pytest.approx(vwap, rel=1e-9)
    _gate(benchmark, "order_book", stream)
