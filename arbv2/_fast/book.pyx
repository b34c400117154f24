# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""One venue's price-level (L2) book for one symbol: snapshot/delta merging and depth walks.

Data structure: per side, two flat C arrays (price key, quantity) sorted ascending with the
BEST level at the END. Bid keys are prices; ask keys are negated prices, so both sides are
"ascending, best last" and share every loop.

Why this layout, for the real access pattern (most updates within a few ticks of the touch,
20 to 1000+ levels, reads of the top and short walks):

- A near-touch insert or delete moves only the few levels between it and the end of the array
  (one short memmove), not the whole book; a best-first layout would move everything.
- Best bid/ask is a load of element n-1; a walk reads contiguous memory backwards with no
  pointer chasing, node objects or Python calls per level (the trees, dicts and generators used
  by hummingbot and nautilus-trader's Python-era books cost 10-100x more per level).
- The level is found by a branch-free count over the NEAR (32) entries next to the touch,
  then a branch-free binary search below them: no data-dependent branches to mispredict.
- Deleting a level further than NEAR entries from the touch leaves a tombstone (key kept,
  quantity 0) instead of moving ~1000 entries; setting that price again revives it in place,
  and inserting a new price next to a tombstone takes the tombstone's slot. On a tick grid the
  far levels come and go at the same prices, so far updates rarely move memory. Tombstones are
  compacted away when they exceed half the entries (amortized O(1)); the entry at the touch is
  always live, reads and walks skip tombstones.

Invariants: keys strictly increasing (tombstones included), quantities > 0 except tombstones
(exactly 0.0, never the last entry), _dead[side] counts the tombstones. Bad input (NaN, inf,
price <= 0, negative quantity, side not 0/1) raises ValueError before anything is modified; a
batch is validated whole and capacity reserved up front, so a failing batch applies nothing.
The methods keep the GIL: frames are tens of levels, and releasing the GIL would cost more than
the work while letting other threads see a half-applied batch.
"""
cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF
from libc.math cimport NAN, INFINITY
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memmove
from libc.stdint cimport int8_t

import numpy as np
cimport numpy as cnp

cnp.import_array()

BID = 0
ASK = 1

cdef enum:
    TAKER_BUY = 0       # C constants: a module-level Python name here would cost a dict lookup
    TAKER_SELL = 1
    NEAR = 32           # entries next to the touch: counted linearly (_count_ge_near), deleted by memmove


cdef inline bint _bad_price(double p) noexcept nogil:
    return not (p > 0.0 and p < INFINITY)


cdef inline bint _bad_qty(double q) noexcept nogil:
    return not (q >= 0.0 and q < INFINITY)


cdef extern from *:
    """
    /* How many of a[0:32] are >= k, branch-free. GCC does not vectorize a counting loop over a
       double compare (the compare may trap), so on x86-64 it is written with SSE2 (baseline).
       It counts a[j] < k (32 minus that): cmpltpd overwrites the freshly loaded a[j] register,
       where a >= compare would overwrite a copy of k made for every pair. */
    #if defined(__SSE2__) && (defined(__x86_64__) || defined(_M_X64))
    #include <emmintrin.h>
    static inline Py_ssize_t arbv2_count_ge_near(const double* a, double k) {
        __m128d kk = _mm_set1_pd(k);
        __m128i c0 = _mm_setzero_si128(), c1 = _mm_setzero_si128();
        for (int j = 0; j < 32; j += 4) {
            c0 = _mm_add_epi64(c0, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(a + j), kk)));
            c1 = _mm_add_epi64(c1, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(a + j + 2), kk)));
        }
        c0 = _mm_add_epi64(c0, c1);
        return 32 + (Py_ssize_t)(_mm_cvtsi128_si64(c0) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(c0, c0)));
    }
    #else
    static inline Py_ssize_t arbv2_count_ge_near(const double* a, double k) {
        Py_ssize_t c = 0;
        for (int j = 0; j < 32; j++) c += a[j] >= k;
        return c;
    }
    #endif
    """
    Py_ssize_t _count_ge_near "arbv2_count_ge_near" (const double* a, double k) noexcept nogil


cdef inline Py_ssize_t _count_ge(const double* a, Py_ssize_t n, double k) noexcept nogil:
    # How many of a[0:n] are >= k (short books).
    cdef Py_ssize_t j, c = 0
    for j in range(n):
        c += a[j] >= k
    return c


cdef inline Py_ssize_t _find(const double* a, Py_ssize_t n, double k) noexcept nogil:
    """Smallest i in [0, n] with a[i] >= k (a ascending, best last; most lookups are near the end)."""
    cdef Py_ssize_t c, m, half, g, lo, hi, tries
    cdef double x
    cdef const double* b
    if n <= NEAR:
        return n - _count_ge(a, n, k)
    c = _count_ge_near(a + n - NEAR, k)      # NEAR == 32
    if c < NEAR:
        return n - c
    # Far from the touch: the answer r is in [lo, hi] (a[n - NEAR] >= k). Guess it by
    # interpolating on the keys at the bracket's ends (levels sit on a tick grid, tombstones keep
    # it dense), then count over a 32-entry window around the guess. A miss narrows the bracket
    # to one side of the window and interpolates again there, where the density is local.
    lo = 0
    hi = n - NEAR
    tries = 3
    while hi - lo >= NEAR:
        if tries == 0:                          # a pathological key spacing: binary search
            m = hi - lo
            b = a + lo
            while m > 1:
                half = m >> 1
                b = b + half if b[half] < k else b
                m -= half
            return (b - a) + (b[0] < k)
        tries -= 1
        x = (<double>lo + (k - a[lo]) / (a[hi] - a[lo]) * <double>(hi - lo)
             - <double>(NEAR // 2))
        g = lo                                  # clamp in floating point, then convert
        if x >= <double>(hi - NEAR + 1):
            g = hi - NEAR + 1
        elif x > <double>lo:
            g = <Py_ssize_t>x
        if a[g + NEAR - 1] < k:                 # r > g + 31
            lo = g + NEAR
        elif g > lo and a[g - 1] >= k:          # r < g
            hi = g - 1
        else:                                   # g <= r <= g + 31
            return g + NEAR - _count_ge_near(a + g, k)
    # hi - lo < 32: a window ending at hi (or starting at 0) holds r.
    g = hi - (NEAR - 1) if hi >= NEAR - 1 else 0
    return g + NEAR - _count_ge_near(a + g, k)


# Side arguments of the walks: the interned literals and the int singletons are matched by
# identity; a str subclass member (core.model.Side.BUY) is matched once by value, then remembered.
cdef object _S_BUY = "buy"
cdef object _S_SELL = "sell"
cdef object _I_BUY = 0
cdef object _I_SELL = 1
cdef object _seen_buy = _S_BUY
cdef object _seen_sell = _S_SELL


cdef int _taker_side_slow(object side) except -1:
    global _seen_buy, _seen_sell
    if isinstance(side, str):                  # plain str and str-enums such as core.model.Side
        if side == "buy":
            _seen_buy = side
            return TAKER_BUY
        if side == "sell":
            _seen_sell = side
            return TAKER_SELL
    elif isinstance(side, int):
        if side == 0:
            return TAKER_BUY
        if side == 1:
            return TAKER_SELL
    raise ValueError(f"side: expected 'buy'/'sell' (or 0/1), got {side!r}")


cdef inline int _taker_side(object side) except -1:
    if side is _S_BUY or side is _seen_buy or side is _I_BUY:
        return TAKER_BUY
    if side is _S_SELL or side is _seen_sell or side is _I_SELL:
        return TAKER_SELL
    return _taker_side_slow(side)


def taker_side(side) -> int:
    """Return 0 for a taker buy, 1 for a taker sell ('buy'/'sell', Side enum or 0/1)."""
    return _taker_side(side)


cdef extern from *:
    """
    /* Result tuples reused in place, as CPython's zip() and dict.items() iterators do: the book
       keeps a reference to the tuple it returned last; when that is the only reference left
       (the caller dropped or unpacked it), the next call refills it instead of allocating, and
       a float item only the tuple references is overwritten in place. A tuple or float anyone
       else still holds is never touched, so callers see ordinary fresh tuples. */
    static PyObject* arbv2_result(PyObject** slot, Py_ssize_t n) {
        PyObject* t = *slot;
        Py_ssize_t i;
        if (t != NULL && Py_REFCNT(t) == 1) { Py_INCREF(t); return t; }
        t = PyTuple_New(n);
        if (t == NULL) return NULL;
        for (i = 0; i < n; i++) { Py_INCREF(Py_None); PyTuple_SET_ITEM(t, i, Py_None); }
        Py_XDECREF(*slot);
        Py_INCREF(t);
        *slot = t;
        return t;
    }
    static int arbv2_put_float(PyObject* t, Py_ssize_t i, double v) {
        PyObject* o = PyTuple_GET_ITEM(t, i);
        PyObject* f;
        if (Py_REFCNT(o) == 1 && PyFloat_CheckExact(o)) { ((PyFloatObject*)o)->ob_fval = v; return 0; }
        f = PyFloat_FromDouble(v);
        if (f == NULL) return -1;
        PyTuple_SET_ITEM(t, i, f);
        Py_DECREF(o);
        return 0;
    }
    static void arbv2_put_obj(PyObject* t, Py_ssize_t i, PyObject* v) {
        PyObject* o = PyTuple_GET_ITEM(t, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, i, v);
        Py_DECREF(o);
    }
    """
    object _result "arbv2_result" (PyObject** slot, Py_ssize_t n)
    int _put_float "arbv2_put_float" (object t, Py_ssize_t i, double v) except -1
    void _put_obj "arbv2_put_obj" (object t, Py_ssize_t i, object v)


# Python ints 0..255 for the walks' level counts (a tuple lookup instead of PyLong_FromSsize_t).
cdef tuple _SMALL_INTS = tuple(range(256))


cdef inline object _pyint(Py_ssize_t v):
    if 0 <= v < 256:
        return _SMALL_INTS[v]
    return v


cdef object _f64(object values, str name):
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    return arr


cdef object _sides_i8(object sides):
    arr = np.asarray(sides)
    if arr.ndim != 1 or arr.dtype.kind not in "biu":
        raise ValueError(f"sides: expected a 1-D integer array of 0/1, got {arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError("sides: values must be 0 (bid) or 1 (ask)")
    return np.ascontiguousarray(arr, dtype=np.int8)


cdef int _check_levels(const double* p, const double* q, Py_ssize_t n, str what) except -1:
    cdef Py_ssize_t i
    cdef bint bad = False
    for i in range(n):                          # branch-free scan; locate the culprit only on error
        bad |= _bad_price(p[i]) | _bad_qty(q[i])
    if bad:
        for i in range(n):
            if _bad_price(p[i]) or _bad_qty(q[i]):
                raise ValueError(f"{what}: bad level {i}: price={p[i]!r} qty={q[i]!r}")
    return 0


cdef inline cnp.ndarray _arr_f64(object x, str name):
    # Fast path: a 1-D C-contiguous float64 ndarray is used as is (no copy, no buffer parsing:
    # cheaper than acquiring a typed memoryview, which costs a buffer-protocol round trip).
    if (type(x) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>x) == cnp.NPY_FLOAT64
            and cnp.PyArray_NDIM(<cnp.ndarray>x) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x)):
        return <cnp.ndarray>x
    return <cnp.ndarray>_f64(x, name)


cdef inline cnp.ndarray _arr_sides(object x):
    if (type(x) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>x) == cnp.NPY_INT8
            and cnp.PyArray_NDIM(<cnp.ndarray>x) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x)):
        return <cnp.ndarray>x
    return <cnp.ndarray>_sides_i8(x)


@cython.final
cdef class L2Book:
    """Price-level book: snapshot/delta merge, top-of-book reads and VWAP depth walks."""

    def __cinit__(self, Py_ssize_t depth_hint=1024):
        cdef int s
        cdef Py_ssize_t cap = depth_hint if depth_hint > 16 else 16
        for s in range(2):
            self._n[s] = 0
            self._dead[s] = 0
            self._front[s] = 0
            self._cap[s] = cap
            self._keys[s] = <double*>malloc(cap * sizeof(double))
            self._qtys[s] = <double*>malloc(cap * sizeof(double))
            if self._keys[s] == NULL or self._qtys[s] == NULL:
                raise MemoryError()
        self.last_update_id = -1
        self.ts_event_ns = 0
        self._res_bid = self._res_ask = self._res_base = self._res_quote = NULL

    def __dealloc__(self):
        cdef int s
        for s in range(2):
            if self._keys[s] != NULL:
                free(self._keys[s] - self._front[s])
            if self._qtys[s] != NULL:
                free(self._qtys[s] - self._front[s])
        Py_XDECREF(self._res_bid)
        Py_XDECREF(self._res_ask)
        Py_XDECREF(self._res_base)
        Py_XDECREF(self._res_quote)

    cdef int _reserve(self, int side, Py_ssize_t need) except -1:
        # Make room for `need` entries from the first one (the front gap is kept).
        cdef Py_ssize_t front = self._front[side]
        cdef Py_ssize_t total = front + self._cap[side]
        cdef double* k
        cdef double* q
        if need <= self._cap[side]:
            return 0
        while total < front + need:
            total *= 2
        k = <double*>realloc(self._keys[side] - front, total * sizeof(double))
        if k == NULL:
            raise MemoryError()
        self._keys[side] = k + front
        q = <double*>realloc(self._qtys[side] - front, total * sizeof(double))
        if q == NULL:
            raise MemoryError()
        self._qtys[side] = q + front
        self._cap[side] = total - front
        return 0

    cdef int _room(self, int side, Py_ssize_t need, Py_ssize_t keep) except -1:
        # Make room for `need` entries from the first one, and when a big side has no front gap
        # left, open one of need / 4 entries below its deepest level, moving the first `keep`
        # entries up.
        cdef Py_ssize_t h = need >> 2 if self._front[side] == 0 and need >= 2 * NEAR else 0
        self._reserve(side, need + h)
        if h:
            memmove(self._keys[side] + h, self._keys[side], keep * sizeof(double))
            memmove(self._qtys[side] + h, self._qtys[side], keep * sizeof(double))
            self._keys[side] += h
            self._qtys[side] += h
            self._front[side] = h
            self._cap[side] -= h
        return 0

    cdef void _compact(self, int side) noexcept nogil:
        # Drop every tombstone (order kept).
        cdef double* k = self._keys[side]
        cdef double* q = self._qtys[side]
        cdef Py_ssize_t i, j = 0, n = self._n[side]
        for i in range(n):
            if q[i] != 0.0:
                k[j] = k[i]
                q[j] = q[i]
                j += 1
        self._n[side] = j
        self._dead[side] = 0

    cdef void _set(self, int side, double price, double qty) noexcept nogil:
        # Capacity for one more entry must already be reserved.
        cdef double key = price * <double>(1 - 2 * side)   # bid: price, ask: -price (no branch)
        cdef double* k = self._keys[side]
        cdef double* q = self._qtys[side]
        cdef Py_ssize_t n = self._n[side]
        cdef Py_ssize_t i = _find(k, n, key)
        if i < n and k[i] == key:
            if qty != 0.0:
                if q[i] == 0.0:                     # revive a tombstone
                    self._dead[side] -= 1
                q[i] = qty
            elif q[i] != 0.0:                       # delete a live level
                if i == n - 1:                      # the touch: drop it and any tombstones below
                    n -= 1
                    while n > 0 and q[n - 1] == 0.0:
                        n -= 1
                        self._dead[side] -= 1
                    self._n[side] = n
                elif i >= n - NEAR:
                    memmove(k + i, k + i + 1, (n - i - 1) * sizeof(double))
                    memmove(q + i, q + i + 1, (n - i - 1) * sizeof(double))
                    self._n[side] = n - 1
                else:
                    q[i] = 0.0
                    self._dead[side] += 1
                    if 2 * self._dead[side] > n:
                        self._compact(side)
        elif qty != 0.0:                            # new price: k[i-1] < key < k[i]
            if i < n and q[i] == 0.0:               # take a neighbouring tombstone's slot
                k[i] = key
                q[i] = qty
                self._dead[side] -= 1
            elif i > 0 and q[i - 1] == 0.0:
                k[i - 1] = key
                q[i - 1] = qty
                self._dead[side] -= 1
            elif 2 * i < n and self._front[side] != 0:
                # Nearer the deep end: move the i entries below down into the front gap.
                memmove(k - 1, k, i * sizeof(double))
                memmove(q - 1, q, i * sizeof(double))
                k[i - 1] = key
                q[i - 1] = qty
                self._keys[side] = k - 1
                self._qtys[side] = q - 1
                self._front[side] -= 1
                self._cap[side] += 1
                self._n[side] = n + 1
            else:
                memmove(k + i + 1, k + i, (n - i) * sizeof(double))
                memmove(q + i + 1, q + i, (n - i) * sizeof(double))
                k[i] = key
                q[i] = qty
                self._n[side] = n + 1

    def apply_delta(self, int side, double price, double qty):
        """Set one level (qty 0 removes it; removing a missing level is a no-op)."""
        if <unsigned int>side > 1:
            raise ValueError(f"side: must be 0 (bid) or 1 (ask), got {side}")
        if _bad_price(price) or _bad_qty(qty):
            raise ValueError(f"bad level: price={price!r} qty={qty!r}")
        cdef Py_ssize_t n = self._n[side]
        if n >= self._cap[side] or (self._front[side] == 0 and n >= 2 * NEAR):
            self._room(side, n + 1, n)
        self._set(side, price, qty)

    def apply_deltas(self, sides, prices, qtys):
        """Merge a batch of (side, price, qty) updates, all or nothing, in order."""
        cdef cnp.ndarray sa = _arr_sides(sides)
        cdef cnp.ndarray pa = _arr_f64(prices, "prices")
        cdef cnp.ndarray qa = _arr_f64(qtys, "qtys")
        cdef Py_ssize_t i, m = cnp.PyArray_DIM(sa, 0), asks = 0, n0, n1
        cdef const int8_t* s = <const int8_t*>cnp.PyArray_DATA(sa)
        cdef const double* p = <const double*>cnp.PyArray_DATA(pa)
        cdef const double* q = <const double*>cnp.PyArray_DATA(qa)
        cdef bint bad = False
        if cnp.PyArray_DIM(pa, 0) != m or cnp.PyArray_DIM(qa, 0) != m:
            raise ValueError(f"deltas: sides, prices and qtys differ in length "
                             f"({m}, {cnp.PyArray_DIM(pa, 0)}, {cnp.PyArray_DIM(qa, 0)})")
        for i in range(m):                      # one branch-free validation pass
            bad |= (<unsigned char>s[i] > 1) | _bad_price(p[i]) | _bad_qty(q[i])
            asks += s[i]
        if bad:
            _check_levels(p, q, m, "deltas")
            for i in range(m):
                if s[i] != 0 and s[i] != 1:
                    raise ValueError(f"deltas: side {i} must be 0 (bid) or 1 (ask), got {s[i]}")
        n0 = self._n[0]
        n1 = self._n[1]
        if n0 + (m - asks) > self._cap[0] or (self._front[0] == 0 and n0 >= 2 * NEAR):
            self._room(0, n0 + (m - asks), n0)
        if n1 + asks > self._cap[1] or (self._front[1] == 0 and n1 >= 2 * NEAR):
            self._room(1, n1 + asks, n1)
        for i in range(m):
            self._set(s[i], p[i], q[i])

    def apply_levels(self, int side, prices, qtys):
        """Merge a batch of updates to one side, all or nothing, in order."""
        if <unsigned int>side > 1:
            raise ValueError(f"side: must be 0 (bid) or 1 (ask), got {side}")
        cdef cnp.ndarray pa = _arr_f64(prices, "prices")
        cdef cnp.ndarray qa = _arr_f64(qtys, "qtys")
        cdef Py_ssize_t i, m = cnp.PyArray_DIM(pa, 0)
        cdef const double* p = <const double*>cnp.PyArray_DATA(pa)
        cdef const double* q = <const double*>cnp.PyArray_DATA(qa)
        if cnp.PyArray_DIM(qa, 0) != m:
            raise ValueError(f"levels: prices and qtys differ in length ({m} != {cnp.PyArray_DIM(qa, 0)})")
        _check_levels(p, q, m, "levels")
        cdef Py_ssize_t n = self._n[side]
        if n + m > self._cap[side] or (self._front[side] == 0 and n >= 2 * NEAR):
            self._room(side, n + m, n)
        for i in range(m):
            self._set(side, p[i], q[i])

    def apply_snapshot(self, bid_prices, bid_qtys, ask_prices, ask_qtys):
        """Replace the whole book; levels are applied in order to an empty book (last wins)."""
        cdef cnp.ndarray bp = _arr_f64(bid_prices, "bid_prices")
        cdef cnp.ndarray bq = _arr_f64(bid_qtys, "bid_qtys")
        cdef cnp.ndarray ap = _arr_f64(ask_prices, "ask_prices")
        cdef cnp.ndarray aq = _arr_f64(ask_qtys, "ask_qtys")
        cdef Py_ssize_t nb = cnp.PyArray_DIM(bp, 0), na = cnp.PyArray_DIM(ap, 0)
        if cnp.PyArray_DIM(bq, 0) != nb or cnp.PyArray_DIM(aq, 0) != na:
            raise ValueError("snapshot: prices and quantities differ in length")
        _check_levels(<const double*>cnp.PyArray_DATA(bp), <const double*>cnp.PyArray_DATA(bq), nb, "bids")
        _check_levels(<const double*>cnp.PyArray_DATA(ap), <const double*>cnp.PyArray_DATA(aq), na, "asks")
        if nb > self._cap[0]:                   # (the first delta opens a front gap, see _room)
            self._reserve(0, nb)
        if na > self._cap[1]:
            self._reserve(1, na)
        self._load_side(0, bp, bq)
        self._load_side(1, ap, aq)

    cdef int _load_side(self, int side, object parr, object qarr) except -1:
        cdef const double* p = <const double*>cnp.PyArray_DATA(<cnp.ndarray>parr)
        cdef const double* q = <const double*>cnp.PyArray_DATA(<cnp.ndarray>qarr)
        cdef Py_ssize_t m = cnp.PyArray_DIM(<cnp.ndarray>parr, 0), i, j = 0
        cdef double sgn = 1.0 if side == BOOK_BID else -1.0
        cdef double* k = self._keys[side]
        cdef double* qq = self._qtys[side]
        cdef bint ordered = True
        cdef const double[::1] ks
        cdef const long long[::1] order
        self._dead[side] = 0
        for i in range(1, m):                   # venues send best first, strictly, qty > 0
            ordered &= sgn * p[i] < sgn * p[i - 1]
        for i in range(m):
            ordered &= q[i] != 0.0
        if ordered:                             # reversed copy: best level last
            for i in range(m):
                k[m - 1 - i] = sgn * p[i]
                qq[m - 1 - i] = q[i]
            self._n[side] = m
            return 0
        keys = np.multiply(parr, sgn)
        ks = keys
        order = np.argsort(keys, kind="stable").astype(np.longlong)
        for i in range(m):                      # sorted ascending; duplicates: last one wins
            if i + 1 < m and ks[order[i + 1]] == ks[order[i]]:
                continue
            if q[order[i]] != 0.0:
                k[j] = ks[order[i]]
                qq[j] = q[order[i]]
                j += 1
        self._n[side] = j
        return 0

    def clear(self):
        """Remove every level and forget the update id and timestamp."""
        self._n[0] = 0
        self._n[1] = 0
        self._dead[0] = 0
        self._dead[1] = 0
        self.last_update_id = -1
        self.ts_event_ns = 0

    def __len__(self):
        return self._n[0] - self._dead[0] + self._n[1] - self._dead[1]

    def depth(self, int side):
        """Return the number of levels on one side (0 bid, 1 ask)."""
        if <unsigned int>side > 1:
            raise ValueError(f"side: must be 0 (bid) or 1 (ask), got {side}")
        return self._n[side] - self._dead[side]

    cdef double best_price(self, int side) noexcept nogil:
        cdef Py_ssize_t n = self._n[side]
        if n == 0:
            return NAN
        return self._keys[side][n - 1] if side == BOOK_BID else -self._keys[side][n - 1]

    cdef double mid_price(self) noexcept nogil:
        if self._n[0] == 0 or self._n[1] == 0:
            return NAN
        return (self._keys[0][self._n[0] - 1] - self._keys[1][self._n[1] - 1]) * 0.5

    def best_bid(self):
        """Return (price, qty) of the best bid, or None."""
        cdef Py_ssize_t n = self._n[0]
        if n == 0:
            return None
        t = _result(&self._res_bid, 2)
        _put_float(t, 0, self._keys[0][n - 1])
        _put_float(t, 1, self._qtys[0][n - 1])
        return t

    def best_ask(self):
        """Return (price, qty) of the best ask, or None."""
        cdef Py_ssize_t n = self._n[1]
        if n == 0:
            return None
        t = _result(&self._res_ask, 2)
        _put_float(t, 0, -self._keys[1][n - 1])
        _put_float(t, 1, self._qtys[1][n - 1])
        return t

    def mid(self):
        """Return (best bid + best ask) / 2, NaN when a side is empty."""
        return self.mid_price()

    def is_crossed(self):
        """Return True when best bid >= best ask (a feed problem: stop trading the symbol)."""
        if self._n[0] == 0 or self._n[1] == 0:
            return False
        return self._keys[0][self._n[0] - 1] >= -self._keys[1][self._n[1] - 1]

    cdef object _levels(self, int side, Py_ssize_t n):
        cdef Py_ssize_t live = self._n[side] - self._dead[side]
        cdef Py_ssize_t k = min(n, live), i = self._n[side] - 1, j = 0
        cdef double sgn = 1.0 if side == BOOK_BID else -1.0
        cdef const double* kk = self._keys[side]
        cdef const double* qq = self._qtys[side]
        out = np.empty((k if k > 0 else 0, 2), dtype=np.float64)
        cdef double[:, ::1] o = out
        while j < k:
            if qq[i] != 0.0:
                o[j, 0] = sgn * kk[i]
                o[j, 1] = qq[i]
                j += 1
            i -= 1
        return out

    def bids(self, Py_ssize_t n):
        """Return up to n bid levels as a (k, 2) float64 array [price, qty], best first."""
        return self._levels(0, n)

    def asks(self, Py_ssize_t n):
        """Return up to n ask levels as a (k, 2) float64 array [price, qty], best first."""
        return self._levels(1, n)

    cdef Walk walk_base(self, int book_side, double want) noexcept nogil:
        cdef Walk w
        cdef const double* k = self._keys[book_side]
        cdef const double* q = self._qtys[book_side]
        cdef double sgn = 1.0 if book_side == BOOK_BID else -1.0
        cdef double rem = want, p, qi, spent = 0.0, filled = 0.0
        cdef Py_ssize_t i = self._n[book_side] - 1, top = i
        w.avg = NAN
        w.filled = 0.0
        w.spent = 0.0
        w.worst = NAN
        w.levels = 0
        if want <= 0.0 or i < 0:
            return w
        while True:
            qi = q[i]
            if qi != 0.0:                       # skip tombstones
                p = sgn * k[i]
                w.levels += 1
                if qi >= rem:
                    spent += rem * p
                    filled = want
                    w.worst = p
                    break
                spent += qi * p
                filled += qi
                rem -= qi
                w.worst = p
            if i == 0:
                break
            i -= 1
        w.spent = spent
        w.filled = filled
        w.avg = spent / filled
        return w

    cdef Walk walk_quote(self, int book_side, double amount) noexcept nogil:
        cdef Walk w
        cdef const double* k = self._keys[book_side]
        cdef const double* q = self._qtys[book_side]
        cdef double sgn = 1.0 if book_side == BOOK_BID else -1.0
        cdef double rem = amount, p, c, qi, spent = 0.0, filled = 0.0
        cdef Py_ssize_t i = self._n[book_side] - 1
        w.avg = NAN
        w.filled = 0.0
        w.spent = 0.0
        w.worst = NAN
        w.levels = 0
        if amount <= 0.0 or i < 0:
            return w
        while True:
            qi = q[i]
            if qi != 0.0:                       # skip tombstones
                p = sgn * k[i]
                c = p * qi
                w.levels += 1
                w.worst = p
                if c >= rem:
                    filled += rem / p
                    spent = amount
                    break
                filled += qi
                spent += c
                rem -= c
            if i == 0:
                break
            i -= 1
        w.spent = spent
        w.filled = filled
        if filled > 0.0:
            w.avg = spent / filled
        return w

    def vwap_base(self, side, double qty):
        """Walk the opposite side for a taker taking `qty` base ('buy' walks the asks).

        Return (avg_price, filled_qty, worst_price, levels_used); partial when depth runs out,
        (nan, 0.0, nan, 0) when nothing fills.
        """
        cdef int t = _taker_side(side)
        if _bad_qty(qty):
            raise ValueError(f"qty: must be finite and >= 0, got {qty!r}")
        cdef Walk w = self.walk_base(BOOK_ASK if t == TAKER_BUY else BOOK_BID, qty)
        r = _result(&self._res_base, 4)
        _put_float(r, 0, w.avg)
        _put_float(r, 1, w.filled)
        _put_float(r, 2, w.worst)
        _put_obj(r, 3, _pyint(w.levels))
        return r

    def vwap_quote(self, side, double quote_amount):
        """Walk the opposite side spending (buy) or receiving (sell) a quote notional.

        Return (avg_price, filled_qty, quote_spent, worst_price, levels_used).
        """
        cdef int t = _taker_side(side)
        if _bad_qty(quote_amount):
            raise ValueError(f"quote_amount: must be finite and >= 0, got {quote_amount!r}")
        cdef Walk w = self.walk_quote(BOOK_ASK if t == TAKER_BUY else BOOK_BID, quote_amount)
        r = _result(&self._res_quote, 5)
        _put_float(r, 0, w.avg)
        _put_float(r, 1, w.filled)
        _put_float(r, 2, w.spent)
        _put_float(r, 3, w.worst)
        _put_obj(r, 4, _pyint(w.levels))
        return r

    def __repr__(self):
        return (f"L2Book(bids={self._n[0] - self._dead[0]}, asks={self._n[1] - self._dead[1]}, "
                f"last_update_id={self.last_update_id}, ts_event_ns={self.ts_event_ns})")
