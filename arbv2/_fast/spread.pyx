# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Executable kimchi premium and net edge for one symbol (quote_spread) or many (scan).

Notation: Q is the base size; VWAP_ask_X(Q) is the average price a taker buying Q pays on venue
X (walking its asks), VWAP_bid_X(Q) what a taker selling Q receives; FX = usdt_krw.

- Q: `size` when size_in_quote is False; otherwise the base bought by walking Upbit asks
  spending `size` KRW (an Upbit market buy is sized in KRW).
- entry_premium = VWAP_ask_upbit(Q) / (VWAP_bid_binance(Q) * FX) - 1   (buy Upbit, short perp)
- exit_premium  = VWAP_bid_upbit(Q) / (VWAP_ask_binance(Q) * FX) - 1   (sell Upbit, buy perp)
- mid_premium   = mid_upbit / (mid_binance * FX) - 1
- break_even_bps = 2*upbit_fee_bps + 2*binance_fee_bps + slippage_bps + safety_bps - funding_bps
  (four taker fills; funding_bps is carry expected to be RECEIVED by the perp short)
- edge_long_bps  = (anchor_premium - entry_premium) * 1e4 - break_even_bps
  (enter long Upbit / short perp now, expecting the premium to revert up to the anchor)
- edge_short_bps = (exit_premium - anchor_premium) * 1e4 - break_even_bps
  (sell Upbit / long perp now, expecting reversion down to the anchor)

Walks that run out of depth give partial VWAPs and complete=False; an empty side gives NaN
VWAPs, so the premiums and edges that need it are NaN (NaN compares false to any threshold).
"""
from libc.math cimport NAN, INFINITY
cimport cython

import numpy as np

from arbv2._fast.book cimport L2Book, Walk, BOOK_BID, BOOK_ASK

SCAN_ENTRY = 0
SCAN_EXIT = 1
SCAN_MID = 2
SCAN_EDGE_LONG = 3
SCAN_EDGE_SHORT = 4
SCAN_QTY_BASE = 5
SCAN_COMPLETE = 6
SCAN_COLUMNS = ("entry_premium", "exit_premium", "mid_premium", "edge_long_bps",
                "edge_short_bps", "qty_base", "complete")


cdef inline bint _finite(double x) noexcept nogil:
    return -INFINITY < x < INFINITY


@cython.final
cdef class CostParams:
    """Per-round-trip costs in bps of notional; break_even_bps is what an edge must clear."""

    cdef readonly double upbit_fee_bps
    cdef readonly double binance_fee_bps
    cdef readonly double slippage_bps
    cdef readonly double funding_bps
    cdef readonly double safety_bps
    cdef double _break_even

    def __init__(self, double upbit_fee_bps, double binance_fee_bps, double slippage_bps=0.0,
                 double funding_bps=0.0, double safety_bps=0.0):
        for name, v in (("upbit_fee_bps", upbit_fee_bps), ("binance_fee_bps", binance_fee_bps),
                        ("slippage_bps", slippage_bps), ("safety_bps", safety_bps)):
            if not (v >= 0.0 and v < INFINITY):
                raise ValueError(f"{name}: must be finite and >= 0, got {v!r}")
        if not _finite(funding_bps):
            raise ValueError(f"funding_bps: must be finite, got {funding_bps!r}")
        self.upbit_fee_bps = upbit_fee_bps
        self.binance_fee_bps = binance_fee_bps
        self.slippage_bps = slippage_bps
        self.funding_bps = funding_bps
        self.safety_bps = safety_bps
        self._break_even = (2.0 * upbit_fee_bps + 2.0 * binance_fee_bps + slippage_bps
                            + safety_bps - funding_bps)

    @property
    def break_even_bps(self):
        """2*upbit + 2*binance taker fees + slippage + safety - funding received, in bps."""
        return self._break_even

    def __repr__(self):
        return (f"CostParams(upbit_fee_bps={self.upbit_fee_bps}, binance_fee_bps={self.binance_fee_bps}, "
                f"slippage_bps={self.slippage_bps}, funding_bps={self.funding_bps}, "
                f"safety_bps={self.safety_bps})")


@cython.final
cdef class SpreadQuote:
    """Result of quote_spread: premiums as fractions, edges in bps, VWAPs and worst prices."""

    cdef readonly double entry_premium, exit_premium, mid_premium, break_even_bps
    cdef readonly double edge_long_bps, edge_short_bps, qty_base
    cdef readonly double upbit_buy_vwap, binance_sell_vwap, upbit_sell_vwap, binance_buy_vwap
    cdef readonly double upbit_buy_worst, binance_sell_worst, upbit_sell_worst, binance_buy_worst
    cdef readonly bint complete

    def __repr__(self):
        return (f"SpreadQuote(entry_premium={self.entry_premium!r}, exit_premium={self.exit_premium!r}, "
                f"mid_premium={self.mid_premium!r}, edge_long_bps={self.edge_long_bps!r}, "
                f"edge_short_bps={self.edge_short_bps!r}, qty_base={self.qty_base!r}, "
                f"complete={bool(self.complete)})")


cdef struct Quote:
    double entry, exit, mid, edge_long, edge_short, qty
    Walk ub, bs, us, bb
    bint complete


cdef void _quote(L2Book up, L2Book bn, double fx, double size, bint in_quote, double be,
                 double anchor, Quote* o) noexcept:
    if in_quote:
        o.ub = up.walk_quote(BOOK_ASK, size)
        o.qty = o.ub.filled
    else:
        o.qty = size
        o.ub = up.walk_base(BOOK_ASK, size)
    o.bs = bn.walk_base(BOOK_BID, o.qty)
    o.us = up.walk_base(BOOK_BID, o.qty)
    o.bb = bn.walk_base(BOOK_ASK, o.qty)
    o.entry = o.ub.avg / (o.bs.avg * fx) - 1.0
    o.exit = o.us.avg / (o.bb.avg * fx) - 1.0
    o.mid = up.mid_price() / (bn.mid_price() * fx) - 1.0
    o.edge_long = (anchor - o.entry) * 1e4 - be
    o.edge_short = (o.exit - anchor) * 1e4 - be
    o.complete = (o.qty > 0.0
                  and (o.ub.spent == size if in_quote else o.ub.filled == o.qty)
                  and o.bs.filled == o.qty and o.us.filled == o.qty and o.bb.filled == o.qty)


cdef int _check_inputs(double usdt_krw, double size, double anchor) except -1:
    if not (usdt_krw > 0.0 and usdt_krw < INFINITY):
        raise ValueError(f"usdt_krw: must be finite and > 0, got {usdt_krw!r}")
    if not (size > 0.0 and size < INFINITY):
        raise ValueError(f"size: must be finite and > 0, got {size!r}")
    if not _finite(anchor):
        raise ValueError(f"anchor_premium: must be finite, got {anchor!r}")
    return 0


def quote_spread(L2Book upbit not None, L2Book binance not None, double usdt_krw, double size,
                 bint size_in_quote, CostParams costs not None, double anchor_premium):
    """Return the SpreadQuote for one symbol at one order size (formulas: module docstring)."""
    cdef Quote q
    _check_inputs(usdt_krw, size, anchor_premium)
    _quote(upbit, binance, usdt_krw, size, size_in_quote, costs._break_even, anchor_premium, &q)
    cdef SpreadQuote r = SpreadQuote.__new__(SpreadQuote)
    r.entry_premium = q.entry
    r.exit_premium = q.exit
    r.mid_premium = q.mid
    r.break_even_bps = costs._break_even
    r.edge_long_bps = q.edge_long
    r.edge_short_bps = q.edge_short
    r.qty_base = q.qty
    r.upbit_buy_vwap = q.ub.avg
    r.binance_sell_vwap = q.bs.avg
    r.upbit_sell_vwap = q.us.avg
    r.binance_buy_vwap = q.bb.avg
    r.upbit_buy_worst = q.ub.worst
    r.binance_sell_worst = q.bs.worst
    r.upbit_sell_worst = q.us.worst
    r.binance_buy_worst = q.bb.worst
    r.complete = q.complete
    return r


def scan(upbit_books, binance_books, double usdt_krw, sizes, bint size_in_quote,
         CostParams costs not None, anchor_premiums, out=None):
    """Quote many symbols at once: row i uses upbit_books[i], binance_books[i], sizes[i], anchor_premiums[i].

    Return (or fill `out`) a float64 array of shape (n, 7); columns are SCAN_COLUMNS (indices
    SCAN_ENTRY ... SCAN_COMPLETE; complete is 1.0 or 0.0). Same formulas as quote_spread.
    """
    cdef const double[::1] sz = np.ascontiguousarray(sizes, dtype=np.float64)
    cdef const double[::1] an = np.ascontiguousarray(anchor_premiums, dtype=np.float64)
    cdef Py_ssize_t n = len(upbit_books), i
    cdef L2Book up, bn
    cdef Quote q
    cdef double be = costs._break_even
    if len(binance_books) != n or sz.shape[0] != n or an.shape[0] != n:
        raise ValueError(f"scan: upbit_books, binance_books, sizes and anchor_premiums must have "
                         f"equal lengths ({n}, {len(binance_books)}, {sz.shape[0]}, {an.shape[0]})")
    for i in range(n):
        _check_inputs(usdt_krw, sz[i], an[i])
    if out is None:
        out = np.empty((n, 7), dtype=np.float64)
    cdef double[:, ::1] o = out
    if o.shape[0] != n or o.shape[1] != 7:
        raise ValueError(f"out: expected shape ({n}, 7), got ({o.shape[0]}, {o.shape[1]})")
    for i in range(n):
        up = upbit_books[i]
        bn = binance_books[i]
        if up is None or bn is None:
            raise TypeError(f"scan: books[{i}] is None")
        _quote(up, bn, usdt_krw, sz[i], size_in_quote, be, an[i], &q)
        o[i, 0] = q.entry
        o[i, 1] = q.exit
        o[i, 2] = q.mid
        o[i, 3] = q.edge_long
        o[i, 4] = q.edge_short
        o[i, 5] = q.qty
        o[i, 6] = 1.0 if q.complete else 0.0
    return out
