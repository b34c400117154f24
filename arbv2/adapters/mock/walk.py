"""Book walks for the paper exchange: per-level fills in Decimal from a float L2 book, read only."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Iterator

from arbv2.adapters.common.decimals import floor_to
from arbv2.core.model import Side

MAX_LEVELS = 1000


def levels(book: Any, side: Side, limit: Decimal | None, n: int = MAX_LEVELS) -> Iterator[tuple[Decimal, Decimal]]:
    """Yield the levels a taker on `side` may hit, best first, as Decimal (price, qty).

    Buys take asks at or below `limit`, sells take bids at or above it (no limit: all levels).
    Lazy: a walk that fills on the first levels converts only those to Decimal. The arrays are
    copies made by the book, so the market-data book is never touched.
    """
    rows = book.asks(n) if side is Side.BUY else book.bids(n)
    for price_f, qty_f in rows.tolist():
        price, qty = Decimal(repr(price_f)), Decimal(repr(qty_f))
        if limit is not None and (price > limit if side is Side.BUY else price < limit):
            return
        if qty > 0:
            yield price, qty


def take_base(book_levels: Iterable[tuple[Decimal, Decimal]], want: Decimal, step: Decimal) -> list[tuple[Decimal, Decimal]]:
    """Return (price, qty) fills taking `want` base, each qty on the `step` grid."""
    fills, rest = [], want
    for price, qty in book_levels:
        if rest <= 0:
            break
        take = floor_to(min(qty, rest), step)
        if take > 0:
            fills.append((price, take))
            rest -= take
    return fills


def take_quote(book_levels: Iterable[tuple[Decimal, Decimal]], budget: Decimal,
               step: Decimal) -> tuple[list[tuple[Decimal, Decimal]], bool]:
    """Return ((price, qty) fills spending at most `budget` quote, complete).

    `complete` is True when the walk stopped because the rest cannot buy one step (dust), False
    when the book ran out first.
    """
    fills, rest = [], budget
    for price, qty in book_levels:
        take = floor_to(min(qty, rest / price), step)
        if take <= 0:
            return fills, True
        fills.append((price, take))
        rest -= take * price
        if take < qty:   # the level outlasted the budget: what is left is dust
            return fills, True
    return fills, False
