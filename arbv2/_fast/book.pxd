# cython: language_level=3
"""C-level view of the L2 book, shared by the consolidated and spread kernels."""
cimport cython
from cpython.object cimport PyObject

cdef enum:
    BOOK_BID = 0
    BOOK_ASK = 1

cdef struct Walk:
    double avg          # filled-weighted average price; NaN when nothing filled
    double filled       # base quantity taken
    double spent        # quote notional paid (taker buy) or received (taker sell)
    double worst        # price of the last level touched; NaN when nothing filled
    Py_ssize_t levels   # number of levels touched


@cython.final
cdef class L2Book:
    # Per side (index BOOK_BID / BOOK_ASK): keys ascending with the best level LAST.
    # Bid keys are prices; ask keys are negated prices, so both sides share one code path.
    # A quantity of exactly 0.0 is a tombstone (a deleted far level, key kept): readers skip
    # it; the last entry (the touch) is never one. _n counts entries, _dead the tombstones.
    cdef double* _keys[2]
    cdef double* _qtys[2]
    cdef Py_ssize_t _n[2]
    cdef Py_ssize_t _dead[2]
    cdef Py_ssize_t _cap[2]      # entries allocated from _keys[side] / _qtys[side] on
    cdef Py_ssize_t _front[2]    # free entries allocated below them (the front gap)
    cdef public long long last_update_id
    cdef public long long ts_event_ns
    # The last result tuple of best_bid/best_ask/vwap_base/vwap_quote (owned; NULL before the
    # first call), refilled in place when the caller kept no reference (see book.pyx).
    cdef PyObject* _res_bid
    cdef PyObject* _res_ask
    cdef PyObject* _res_base
    cdef PyObject* _res_quote

    cdef int _reserve(self, int side, Py_ssize_t need) except -1
    cdef int _room(self, int side, Py_ssize_t need, Py_ssize_t keep) except -1
    cdef void _compact(self, int side) noexcept nogil
    cdef void _set(self, int side, double price, double qty) noexcept nogil
    cdef Walk walk_base(self, int book_side, double want) noexcept nogil
    cdef Walk walk_quote(self, int book_side, double amount) noexcept nogil
    cdef double best_price(self, int side) noexcept nogil
    cdef double mid_price(self) noexcept nogil
    cdef int _load_side(self, int side, object parr, object qarr) except -1
    cdef object _levels(self, int side, Py_ssize_t n)
