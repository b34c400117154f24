# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Cross-venue consolidated book: several venues' L2 books merged in one quote currency.

Each venue's prices are multiplied by its own price multiplier (e.g. Upbit KRW -> USDT by
1 / usdt_krw; a 1000PEPE contract by 1/1000) and its quantities by an optional quantity
multiplier (1000 for that contract), then the sides are k-way merged best first, keeping the
venue index of every level. Levels are never summed across venues: a consolidated level is one
venue's level, so a router knows where to send. Ties in converted price go to the lower venue
index. Venues are few (2-5), so each output level picks the best head by a linear scan.
"""
from libc.stdlib cimport malloc, free
from libc.math cimport INFINITY
from libc.stdint cimport int64_t

import numpy as np

from arbv2._fast.book cimport L2Book, BOOK_BID, BOOK_ASK


cdef Py_ssize_t _merge(double** keys, double** qtys, const double* pm, const double* qm,
                       Py_ssize_t m, int side, Py_ssize_t n, double[:, ::1] out,
                       int64_t[::1] venue, Py_ssize_t* head) noexcept:
    # head[v] = venue v's next live level (counting down: best is last), -1 when exhausted;
    # a book's last entry is always live, entries with quantity 0.0 are tombstones.
    cdef Py_ssize_t v, k = 0, best
    cdef double sgn = 1.0 if side == BOOK_BID else -1.0
    cdef double p, bp = 0.0
    while k < n:
        best = -1
        for v in range(m):
            if head[v] < 0:
                continue
            p = sgn * keys[v][head[v]] * pm[v]
            if best < 0 or (p > bp if side == BOOK_BID else p < bp):
                best = v
                bp = p
        if best < 0:
            break
        out[k, 0] = bp
        out[k, 1] = qtys[best][head[best]] * qm[best]
        venue[k] = best
        head[best] -= 1
        while head[best] >= 0 and qtys[best][head[best]] == 0.0:    # skip the book's tombstones
            head[best] -= 1
        k += 1
    return k


def consolidate(books, price_multipliers, Py_ssize_t n, qty_multipliers=None):
    """Merge the top n levels per side of several venues' books into one quote currency.

    Return (bids, bid_venues, asks, ask_venues): bids/asks are float64 arrays (k, 2)
    [price, qty] best first, *_venues int64 arrays (k,) holding each level's index in `books`.
    """
    cdef Py_ssize_t m = len(books), v
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    pm_arr = np.ascontiguousarray(price_multipliers, dtype=np.float64)
    qm_arr = (np.ones(m) if qty_multipliers is None
              else np.ascontiguousarray(qty_multipliers, dtype=np.float64))
    cdef const double[::1] pm = pm_arr
    cdef const double[::1] qm = qm_arr
    if pm.shape[0] != m or qm.shape[0] != m:
        raise ValueError(f"consolidate: {m} books but {pm.shape[0]} price and {qm.shape[0]} qty multipliers")
    for v in range(m):
        if not (0.0 < pm[v] < INFINITY and 0.0 < qm[v] < INFINITY):
            raise ValueError(f"multipliers[{v}]: must be finite and > 0, got {pm[v]!r}, {qm[v]!r}")
        if not isinstance(books[v], L2Book):
            raise TypeError(f"books[{v}]: expected L2Book, got {type(books[v]).__name__}")
    bids = np.empty((n, 2), dtype=np.float64)
    asks = np.empty((n, 2), dtype=np.float64)
    bid_venues = np.empty(n, dtype=np.int64)
    ask_venues = np.empty(n, dtype=np.int64)
    cdef Py_ssize_t kk[2]
    cdef int side
    cdef L2Book b
    cdef double** keys = <double**>malloc((m + 1) * sizeof(double*))
    cdef double** qtys = <double**>malloc((m + 1) * sizeof(double*))
    cdef Py_ssize_t* head = <Py_ssize_t*>malloc((m + 1) * sizeof(Py_ssize_t))
    try:
        if keys == NULL or qtys == NULL or head == NULL:
            raise MemoryError()
        for side in range(2):
            for v in range(m):
                b = books[v]
                keys[v] = b._keys[side]
                qtys[v] = b._qtys[side]
                head[v] = b._n[side] - 1
            kk[side] = _merge(keys, qtys, &pm[0] if m else NULL, &qm[0] if m else NULL, m, side,
                              n, bids if side == BOOK_BID else asks,
                              bid_venues if side == BOOK_BID else ask_venues, head)
    finally:
        free(keys)
        free(qtys)
        free(head)
    return bids[:kk[0]], bid_venues[:kk[0]], asks[:kk[1]], ask_venues[:kk[1]]
