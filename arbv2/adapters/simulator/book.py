"""The simulator's L2 book and the quoter that keeps it around the model's mid.

Every level change goes through `L2Book.set`, which stamps it with the next update id and
records it as pending. The publishers drain the pending changes, so the streams carry exactly
the changes the book went through and a client applying them reproduces the book bit for bit.
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Protocol

from sortedcontainers import SortedDict

ZERO = Decimal(0)
BID, ASK = "bid", "ask"


class Grid(Protocol):
    def floor(self, x: float) -> Decimal: ...
    def ceil(self, x: float) -> Decimal: ...
    def up(self, p: Decimal) -> Decimal: ...
    def down(self, p: Decimal) -> Decimal: ...
    def tick_at(self, p: Decimal) -> Decimal: ...


class L2Book:
    """Price levels per side with update ids and a pending change set for the publishers."""

    __slots__ = ("code", "bids", "asks", "update_id", "published_id", "pending_first", "pending",
                 "version")

    def __init__(self, code: str, first_update_id: int) -> None:
        self.code = code
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.update_id = first_update_id      # id of the last change applied
        self.published_id = first_update_id   # `u` of the last event handed to the streams
        self.pending_first: int | None = None
        self.pending: dict[tuple[str, Decimal], Decimal] = {}
        self.version = 0                      # bumps on any change (Upbit top-N publishing)

    def side(self, side: str) -> SortedDict:
        return self.bids if side == BID else self.asks

    def set(self, side: str, price: Decimal, qty: Decimal) -> None:
        """Set a level to an absolute quantity (0 deletes) and record the change."""
        levels = self.side(side)
        if qty <= 0:
            if price not in levels:
                return
            del levels[price]
            qty = ZERO
        else:
            if levels.get(price) == qty:
                return
            levels[price] = qty
        self.update_id += 1
        if self.pending_first is None:
            self.pending_first = self.update_id
        self.pending[(side, price)] = qty
        self.version += 1

    def reserve_id(self) -> int:
        """Return an update id a REST snapshot can carry so the next event spans it (U <= id <= u)."""
        if self.pending_first is None:
            self.update_id += 1
            self.pending_first = self.update_id
        return self.update_id

    def drain(self) -> tuple[int, int, int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]] | None:
        """Return (U, u, pu, bid changes, ask changes) of everything pending, or None if nothing changed."""
        if not self.pending:
            return None
        first, pu = self.pending_first, self.published_id
        assert first is not None
        bids = [(p, q) for (s, p), q in self.pending.items() if s == BID]
        asks = [(p, q) for (s, p), q in self.pending.items() if s == ASK]
        bids.sort(reverse=True)
        asks.sort()
        self.pending = {}
        self.pending_first = None
        self.published_id = self.update_id
        return first, self.update_id, pu, bids, asks

    def best(self, side: str) -> tuple[Decimal, Decimal] | None:
        levels = self.side(side)
        if not levels:
            return None
        return levels.peekitem(-1 if side == BID else 0)

    def top(self, side: str, depth: int) -> list[tuple[Decimal, Decimal]]:
        """Return up to `depth` levels best-first."""
        levels = self.side(side)
        n = min(depth, len(levels))
        if side == BID:
            return [levels.peekitem(-1 - i) for i in range(n)]
        return [levels.peekitem(i) for i in range(n)]

    def take(self, side: str, max_qty: Decimal | None, max_quote: Decimal | None,
             limit_price: Decimal | None, qty_quantum: Decimal) -> list[tuple[Decimal, Decimal]]:
        """Consume liquidity from `side` (the resting side) best-first; return [(price, qty)] fills.

        Stops at `max_qty` base, at `max_quote` quote (quantity per level rounded down to
        `qty_quantum`), or at a level worse than `limit_price`.
        """
        fills: list[tuple[Decimal, Decimal]] = []
        left_qty, left_quote = max_qty, max_quote
        for price, avail in self.top(side, len(self.side(side))):
            if limit_price is not None and (price > limit_price if side == ASK else price < limit_price):
                break
            qty = avail
            if left_qty is not None:
                qty = min(qty, left_qty)
            if left_quote is not None:
                qty = min(qty, (left_quote / price).quantize(qty_quantum, rounding="ROUND_FLOOR"))
            if qty <= 0:
                break
            fills.append((price, qty))
            self.set(side, price, avail - qty)
            if left_qty is not None:
                left_qty -= qty
                if left_qty <= 0:
                    break
            if left_quote is not None:
                left_quote -= qty * price
        return fills


class Quoter:
    """Keep a book of `levels` per side around a mid on a price grid, with churn near the touch."""

    def __init__(self, book: L2Book, grid: Grid, rng: random.Random, mean_qty: float,
                 qty_decimals: int, levels: int, churn: int = 4, gap_prob: float = 0.25) -> None:
        self.book, self.grid, self.rng = book, grid, rng
        self.mean_qty, self.qty_decimals = mean_qty, qty_decimals
        self.levels, self.churn, self.gap_prob = levels, churn, gap_prob
        self._quantum = Decimal(1).scaleb(-qty_decimals)

    def _qty(self, depth_index: int) -> Decimal:
        scale = self.mean_qty * (0.4 + 0.06 * min(depth_index, 30))   # thinner at the touch
        q = Decimal(f"{self.rng.expovariate(1.0) * scale + float(self._quantum):.{self.qty_decimals}f}")
        return q if q > 0 else self._quantum

    def requote(self, mid: float) -> None:
        """Move the touch to the mid, churn sizes near it and keep the depth at `levels`."""
        book, grid = self.book, self.grid
        bid_px = grid.floor(mid - 0.5 * float(grid.tick_at(grid.floor(mid))))
        ask_px = grid.ceil(mid + 0.5 * float(grid.tick_at(grid.floor(mid))))
        if ask_px <= bid_px:
            ask_px = grid.up(bid_px)
        while book.bids and book.bids.peekitem(-1)[0] > bid_px:
            book.set(BID, book.bids.peekitem(-1)[0], ZERO)
        while book.asks and book.asks.peekitem(0)[0] < ask_px:
            book.set(ASK, book.asks.peekitem(0)[0], ZERO)
        if not book.bids or book.bids.peekitem(-1)[0] < bid_px:
            book.set(BID, bid_px, self._qty(0))
        if not book.asks or book.asks.peekitem(0)[0] > ask_px:
            book.set(ASK, ask_px, self._qty(0))
        for _ in range(self.churn):
            self._churn_one(BID if self.rng.random() < 0.5 else ASK)
        self._fill_near(BID, bid_px)
        self._fill_near(ASK, ask_px)
        self._fill_depth(BID)
        self._fill_depth(ASK)

    def _churn_one(self, side: str) -> None:
        levels = self.book.side(side)
        n = len(levels)
        if n == 0:
            return
        i = min(int(self.rng.expovariate(0.3)), n - 1)
        price = levels.peekitem(-1 - i if side == BID else i)[0]
        r = self.rng.random()
        if r < 0.6 or i == 0:
            self.book.set(side, price, self._qty(i))
        elif r < 0.8:
            self.book.set(side, price, ZERO)
        else:   # insert into a hole next to this level, if there is one
            nxt = self.grid.down(price) if side == BID else self.grid.up(price)
            if nxt > 0 and nxt not in levels:
                self.book.set(side, nxt, self._qty(i + 1))

    def _fill_near(self, side: str, touch: Decimal, span: int = 12) -> None:
        # after the touch moves, the grid prices just behind it are empty: refill most of them
        levels, step = self.book.side(side), (self.grid.down if side == BID else self.grid.up)
        px = touch
        for i in range(1, span):
            px = step(px)
            if px <= 0:
                return
            if px not in levels and self.rng.random() >= self.gap_prob:
                self.book.set(side, px, self._qty(i))

    def _fill_depth(self, side: str) -> None:
        levels, grid = self.book.side(side), self.grid
        while len(levels) > self.levels:
            self.book.set(side, levels.peekitem(0 if side == BID else -1)[0], ZERO)
        while len(levels) < self.levels:
            worst = levels.peekitem(0 if side == BID else -1)[0]
            step = grid.down if side == BID else grid.up
            px = step(worst)
            while self.rng.random() < self.gap_prob:
                px = step(px)
            if px <= 0:
                return
            self.book.set(side, px, self._qty(len(levels)))
