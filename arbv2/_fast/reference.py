"""Plain-Python twin of the compiled kernels (book, consolidated, spread): same API, same results.

Kept simple and obviously right: the book is two `SortedDict`s (price -> qty); walks are plain
loops in the same order and with the same arithmetic as the kernels, so property tests can hold
the two equal. Used by the tests and benchmarks, and in place of the compiled modules only when
ARBV2_NO_EXTENSIONS=1 (see `arbv2._fast`). Formulas are documented in `spread.pyx`.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from sortedcontainers import SortedDict

BID = 0
ASK = 1

SCAN_ENTRY, SCAN_EXIT, SCAN_MID, SCAN_EDGE_LONG, SCAN_EDGE_SHORT, SCAN_QTY_BASE, SCAN_COMPLETE = range(7)
SCAN_COLUMNS = ("entry_premium", "exit_premium", "mid_premium", "edge_long_bps",
                "edge_short_bps", "qty_base", "complete")

_NAN = float("nan")


def taker_side(side: Any) -> int:
    """Return 0 for a taker buy, 1 for a taker sell ('buy'/'sell', Side enum or 0/1)."""
    if isinstance(side, str):
        if side == "buy":
            return 0
        if side == "sell":
            return 1
    elif isinstance(side, int):
        if side in (0, 1):
            return int(side)
    raise ValueError(f"side: expected 'buy'/'sell' (or 0/1), got {side!r}")


def _check_level(price: float, qty: float) -> None:
    if not (0.0 < price < math.inf) or not (0.0 <= qty < math.inf):
        raise ValueError(f"bad level: price={price!r} qty={qty!r}")


def _check_side(side: int) -> None:
    if side not in (0, 1):
        raise ValueError(f"side: must be 0 (bid) or 1 (ask), got {side}")


class L2Book:
    """Price-level book on two SortedDicts (price -> qty)."""

    def __init__(self, depth_hint: int = 1024) -> None:
        # Both sides iterate best first: bids are keyed by -price (SortedDict's key function).
        self._sides = (SortedDict(operator.neg), SortedDict())   # BID, ASK
        self.last_update_id = -1
        self.ts_event_ns = 0

    def _set(self, side: int, price: float, qty: float) -> None:
        levels = self._sides[side]
        if qty == 0.0:
            levels.pop(price, None)
        else:
            levels[price] = qty

    def apply_delta(self, side: int, price: float, qty: float) -> None:
        """Set one level (qty 0 removes it; removing a missing level is a no-op)."""
        _check_side(side)
        _check_level(float(price), float(qty))
        self._set(side, float(price), float(qty))

    def apply_deltas(self, sides: Sequence[int], prices: Sequence[float], qtys: Sequence[float]) -> None:
        """Merge a batch of updates, all or nothing, in order."""
        rows = list(zip(np.asarray(sides).tolist(), np.asarray(prices, dtype=float).tolist(),
                        np.asarray(qtys, dtype=float).tolist(), strict=True))
        for side, price, qty in rows:
            _check_side(side)
            _check_level(price, qty)
        for side, price, qty in rows:
            self._set(side, price, qty)

    def apply_levels(self, side: int, prices: Sequence[float], qtys: Sequence[float]) -> None:
        """Merge a batch of updates to one side, all or nothing, in order."""
        _check_side(side)
        n = len(np.asarray(prices))
        self.apply_deltas([side] * n, prices, qtys)

    def apply_snapshot(self, bid_prices: Sequence[float], bid_qtys: Sequence[float],
                       ask_prices: Sequence[float], ask_qtys: Sequence[float]) -> None:
        """Replace the whole book; levels are applied in order to an empty book (last wins)."""
        sides = []
        for prices, qtys in ((bid_prices, bid_qtys), (ask_prices, ask_qtys)):
            rows = list(zip(np.asarray(prices, dtype=float).tolist(),
                            np.asarray(qtys, dtype=float).tolist(), strict=True))
            for price, qty in rows:
                _check_level(price, qty)
            sides.append(rows)
        for side, rows in enumerate(sides):
            self._sides[side].clear()
            for price, qty in rows:
                self._set(side, price, qty)

    def clear(self) -> None:
        """Remove every level and forget the update id and timestamp."""
        self._sides[BID].clear()
        self._sides[ASK].clear()
        self.last_update_id = -1
        self.ts_event_ns = 0

    def __len__(self) -> int:
        return len(self._sides[BID]) + len(self._sides[ASK])

    def depth(self, side: int) -> int:
        """Return the number of levels on one side (0 bid, 1 ask)."""
        _check_side(side)
        return len(self._sides[side])

    def _best_first(self, side: int):
        return iter(self._sides[side].items())

    def best_bid(self) -> tuple[float, float] | None:
        """Return (price, qty) of the best bid, or None."""
        return self._sides[BID].peekitem(0) if self._sides[BID] else None

    def best_ask(self) -> tuple[float, float] | None:
        """Return (price, qty) of the best ask, or None."""
        return self._sides[ASK].peekitem(0) if self._sides[ASK] else None

    def mid(self) -> float:
        """Return (best bid + best ask) / 2, NaN when a side is empty."""
        bid, ask = self.best_bid(), self.best_ask()
        return _NAN if bid is None or ask is None else (bid[0] + ask[0]) * 0.5

    def is_crossed(self) -> bool:
        """Return True when best bid >= best ask."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def _levels(self, side: int, n: int) -> np.ndarray:
        rows = [level for _, level in zip(range(max(n, 0)), self._best_first(side))]
        return np.array(rows, dtype=np.float64).reshape(len(rows), 2)

    def bids(self, n: int) -> np.ndarray:
        """Return up to n bid levels as a (k, 2) float64 array [price, qty], best first."""
        return self._levels(BID, n)

    def asks(self, n: int) -> np.ndarray:
        """Return up to n ask levels as a (k, 2) float64 array [price, qty], best first."""
        return self._levels(ASK, n)

    def walk_base(self, book_side: int, want: float) -> tuple[float, float, float, float, int]:
        """Return (avg, filled, spent, worst, levels) taking `want` base from `book_side`."""
        filled = spent = 0.0
        worst, levels, rem = _NAN, 0, want
        if want > 0.0:
            for price, qty in self._best_first(book_side):
                levels += 1
                worst = price
                if qty >= rem:
                    spent += rem * price
                    filled = want
                    break
                spent += qty * price
                filled += qty
                rem -= qty
        return (spent / filled if filled > 0.0 else _NAN), filled, spent, worst, levels

    def walk_quote(self, book_side: int, amount: float) -> tuple[float, float, float, float, int]:
        """Return (avg, filled, spent, worst, levels) trading `amount` of quote on `book_side`."""
        filled = spent = 0.0
        worst, levels, rem = _NAN, 0, amount
        if amount > 0.0:
            for price, qty in self._best_first(book_side):
                cost = price * qty
                levels += 1
                worst = price
                if cost >= rem:
                    filled += rem / price
                    spent = amount
                    break
                filled += qty
                spent += cost
                rem -= cost
        return (spent / filled if filled > 0.0 else _NAN), filled, spent, worst, levels

    def vwap_base(self, side: Any, qty: float) -> tuple[float, float, float, int]:
        """Return (avg_price, filled_qty, worst_price, levels_used) for a taker taking `qty`."""
        taker = taker_side(side)
        if not (0.0 <= qty < math.inf):
            raise ValueError(f"qty: must be finite and >= 0, got {qty!r}")
        avg, filled, _, worst, levels = self.walk_base(ASK if taker == 0 else BID, float(qty))
        return avg, filled, worst, levels

    def vwap_quote(self, side: Any, quote_amount: float) -> tuple[float, float, float, float, int]:
        """Return (avg_price, filled_qty, quote_spent, worst_price, levels_used) for a quote notional."""
        taker = taker_side(side)
        if not (0.0 <= quote_amount < math.inf):
            raise ValueError(f"quote_amount: must be finite and >= 0, got {quote_amount!r}")
        return self.walk_quote(ASK if taker == 0 else BID, float(quote_amount))

    def __repr__(self) -> str:
        return (f"L2Book(bids={len(self._sides[BID])}, asks={len(self._sides[ASK])}, "
                f"last_update_id={self.last_update_id}, ts_event_ns={self.ts_event_ns})")


def consolidate(books: Sequence[L2Book], price_multipliers: Sequence[float], n: int,
                qty_multipliers: Sequence[float] | None = None):
    """Merge the top n levels per side of several books; see consolidated.pyx for the contract."""
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    qm = [1.0] * len(books) if qty_multipliers is None else [float(x) for x in qty_multipliers]
    pm = [float(x) for x in price_multipliers]
    if len(pm) != len(books) or len(qm) != len(books):
        raise ValueError(f"consolidate: {len(books)} books but {len(pm)} price and {len(qm)} qty multipliers")
    for v, (p, q) in enumerate(zip(pm, qm)):
        if not (0.0 < p < math.inf and 0.0 < q < math.inf):
            raise ValueError(f"multipliers[{v}]: must be finite and > 0, got {p!r}, {q!r}")
    out = []
    for side, sign in ((BID, -1.0), (ASK, 1.0)):
        rows = [(price * pm[v], v, qty * qm[v])
                for v, book in enumerate(books) for price, qty in book._best_first(side)]
        rows.sort(key=lambda r: (sign * r[0], r[1]))
        rows = rows[:n]
        out.append(np.array([[p, q] for p, _, q in rows], dtype=np.float64).reshape(len(rows), 2))
        out.append(np.array([v for _, v, _ in rows], dtype=np.int64))
    return out[0], out[1], out[2], out[3]


@dataclass(frozen=True, slots=True)
class CostParams:
    """Per-round-trip costs in bps of notional; break_even_bps is what an edge must clear."""

    upbit_fee_bps: float
    binance_fee_bps: float
    slippage_bps: float = 0.0
    funding_bps: float = 0.0
    safety_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("upbit_fee_bps", "binance_fee_bps", "slippage_bps", "safety_bps"):
            value = getattr(self, name)
            if not (0.0 <= value < math.inf):
                raise ValueError(f"{name}: must be finite and >= 0, got {value!r}")
        if not math.isfinite(self.funding_bps):
            raise ValueError(f"funding_bps: must be finite, got {self.funding_bps!r}")

    @property
    def break_even_bps(self) -> float:
        """2*upbit + 2*binance taker fees + slippage + safety - funding received, in bps."""
        return (2.0 * self.upbit_fee_bps + 2.0 * self.binance_fee_bps + self.slippage_bps
                + self.safety_bps - self.funding_bps)


@dataclass(frozen=True, slots=True)
class SpreadQuote:
    """Result of quote_spread: premiums as fractions, edges in bps, VWAPs and worst prices."""

    entry_premium: float
    exit_premium: float
    mid_premium: float
    break_even_bps: float
    edge_long_bps: float
    edge_short_bps: float
    qty_base: float
    upbit_buy_vwap: float
    binance_sell_vwap: float
    upbit_sell_vwap: float
    binance_buy_vwap: float
    upbit_buy_worst: float
    binance_sell_worst: float
    upbit_sell_worst: float
    binance_buy_worst: float
    complete: bool


def _check_inputs(usdt_krw: float, size: float, anchor: float) -> None:
    if not (0.0 < usdt_krw < math.inf):
        raise ValueError(f"usdt_krw: must be finite and > 0, got {usdt_krw!r}")
    if not (0.0 < size < math.inf):
        raise ValueError(f"size: must be finite and > 0, got {size!r}")
    if not math.isfinite(anchor):
        raise ValueError(f"anchor_premium: must be finite, got {anchor!r}")


def _ratio(num: float, den: float) -> float:
    # den is a VWAP or mid (> 0) times FX, or NaN when a side is empty: NaN propagates.
    return num / den


def quote_spread(upbit: L2Book, binance: L2Book, usdt_krw: float, size: float, size_in_quote: bool,
                 costs: CostParams, anchor_premium: float) -> SpreadQuote:
    """Return the SpreadQuote for one symbol at one order size (formulas: spread.pyx docstring)."""
    _check_inputs(usdt_krw, size, anchor_premium)
    be = costs.break_even_bps
    if size_in_quote:
        ub = upbit.walk_quote(ASK, size)
        qty = ub[1]
    else:
        qty = size
        ub = upbit.walk_base(ASK, qty)
    bs = binance.walk_base(BID, qty)
    us = upbit.walk_base(BID, qty)
    bb = binance.walk_base(ASK, qty)
    entry = _ratio(ub[0], bs[0] * usdt_krw) - 1.0
    exit_ = _ratio(us[0], bb[0] * usdt_krw) - 1.0
    mid = _ratio(upbit.mid(), binance.mid() * usdt_krw) - 1.0
    complete = (qty > 0.0 and (ub[2] == size if size_in_quote else ub[1] == qty)
                and bs[1] == qty and us[1] == qty and bb[1] == qty)
    return SpreadQuote(
        entry_premium=entry, exit_premium=exit_, mid_premium=mid, break_even_bps=be,
        edge_long_bps=(anchor_premium - entry) * 1e4 - be,
        edge_short_bps=(exit_ - anchor_premium) * 1e4 - be, qty_base=qty,
        upbit_buy_vwap=ub[0], binance_sell_vwap=bs[0], upbit_sell_vwap=us[0], binance_buy_vwap=bb[0],
        upbit_buy_worst=ub[3], binance_sell_worst=bs[3], upbit_sell_worst=us[3],
        binance_buy_worst=bb[3], complete=bool(complete))


def scan(upbit_books: Sequence[L2Book], binance_books: Sequence[L2Book], usdt_krw: float,
         sizes: Sequence[float], size_in_quote: bool, costs: CostParams,
         anchor_premiums: Sequence[float], out: np.ndarray | None = None) -> np.ndarray:
    """Quote many symbols; return (or fill `out`) an (n, 7) float64 array with SCAN_COLUMNS."""
    sz = np.asarray(sizes, dtype=np.float64)
    an = np.asarray(anchor_premiums, dtype=np.float64)
    n = len(upbit_books)
    if len(binance_books) != n or len(sz) != n or len(an) != n:
        raise ValueError("scan: upbit_books, binance_books, sizes and anchor_premiums must have equal lengths")
    for i in range(n):
        _check_inputs(usdt_krw, float(sz[i]), float(an[i]))
    if out is None:
        out = np.empty((n, 7), dtype=np.float64)
    if out.shape != (n, 7):
        raise ValueError(f"out: expected shape ({n}, 7), got {out.shape}")
    for i in range(n):
        q = quote_spread(upbit_books[i], binance_books[i], usdt_krw, float(sz[i]), size_in_quote,
                         costs, float(an[i]))
        out[i] = (q.entry_premium, q.exit_premium, q.mid_premium, q.edge_long_bps,
                  q.edge_short_bps, q.qty_base, 1.0 if q.complete else 0.0)
    return out
