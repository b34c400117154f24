# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled frame decoders: venue frame text straight to header fields and float64 level arrays.

Why: parsing a 20-level depth diff with orjson and then calling float() per price string costs
more than the whole merge. These decoders scan the JSON once in C, validate it strictly (a
malformed frame raises ValueError and leaves the previous frame's results untouched only in the
sense that they must not be used: callers check the return value), and write prices and
quantities into preallocated per-side buffers that are reused from frame to frame.

The readable twin is `arbv2.adapters.feeds.pydecode` (orjson + float); tests hold them equal.
Strictness is a superset of JSON's: escaped keys/codes, duplicate known keys, lone surrogate
escapes and nesting deeper than 64 are rejected here even where orjson would accept them.
"""
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport strtod
from libc.string cimport memcmp
from libc.math cimport isfinite

import numpy as np

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*) except NULL
    char* PyBytes_AS_STRING(object)
    Py_ssize_t PyBytes_GET_SIZE(object)
    char* PyByteArray_AS_STRING(object)
    Py_ssize_t PyByteArray_GET_SIZE(object)
    object PyUnicode_DecodeUTF8(const char*, Py_ssize_t, const char*)

# Frame kinds returned by decode().
KIND_OTHER = 0          # well-formed JSON the decoder does not handle (other event types)
KIND_DEPTH = 1          # Binance depthUpdate diff
KIND_SNAPSHOT = 2       # Binance REST /fapi/v1/depth body (optionally wrapped, see stream)
KIND_RESULT = 3         # Binance {"result":..,"id":..} subscription answer
KIND_ORDERBOOK = 1      # Upbit orderbook
KIND_STATUS = 2         # Upbit {"status":"UP"}
KIND_ERROR = 3          # Upbit {"error":{...}}
STREAM_SNAPSHOT = 0
STREAM_REALTIME = 1

cdef enum:
    MAX_DEPTH = 64
    INITIAL_CAP = 64
    # C twins of the Upbit constants above (a module-level Python name costs a dict lookup).
    C_KIND_OTHER = 0
    C_KIND_ORDERBOOK = 1
    C_KIND_STATUS = 2
    C_KIND_ERROR = 3
    C_STREAM_SNAPSHOT = 0
    C_STREAM_REALTIME = 1

cdef double[23] POW10
cdef int _k
POW10[0] = 1.0
for _k in range(1, 23):
    POW10[_k] = POW10[_k - 1] * 10.0


cdef int _fail(str what, Py_ssize_t pos) except -1:
    raise ValueError(f"malformed frame: {what} at byte {pos}")


cdef inline Py_ssize_t _ws(const unsigned char* b, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and (b[i] == 32 or b[i] == 10 or b[i] == 13 or b[i] == 9):
        i += 1
    return i


cdef inline bint _hex(unsigned char c) noexcept:
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102)


cdef inline int _hexval(unsigned char c) noexcept:
    if c <= 57:
        return c - 48
    if c <= 70:
        return c - 55
    return c - 87


cdef Py_ssize_t _string(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, bint* escaped) except -1:
    """Scan a JSON string starting at its opening quote; return the index after the closing one."""
    cdef unsigned char c, c1
    cdef int cp = 0, extra = 0, j
    c1 = 0
    escaped[0] = False
    i += 1
    while i < n:
        c = b[i]
        if c == 34:
            return i + 1
        if c == 92:
            escaped[0] = True
            if i + 1 >= n:
                break
            c = b[i + 1]
            if c == 117:
                if i + 5 >= n or not (_hex(b[i + 2]) and _hex(b[i + 3]) and _hex(b[i + 4]) and _hex(b[i + 5])):
                    _fail("bad \\u escape", i)
                cp = (_hexval(b[i + 2]) << 12) | (_hexval(b[i + 3]) << 8) | (_hexval(b[i + 4]) << 4) | _hexval(b[i + 5])
                if 0xD800 <= cp <= 0xDFFF:
                    _fail("surrogate escape", i)
                i += 6
                continue
            if c in (34, 92, 47, 98, 102, 110, 114, 116):
                i += 2
                continue
            _fail("bad escape", i)
        if c < 32:
            _fail("control character in string", i)
        if c < 128:
            i += 1
            continue
        # multi-byte UTF-8: validate lead byte, range of the second byte, continuation bytes
        if 0xC2 <= c <= 0xDF:
            extra = 1
            c1 = 0x80
            cp = 0xBF
        elif 0xE0 <= c <= 0xEF:
            extra = 2
            c1 = 0xA0 if c == 0xE0 else 0x80
            cp = 0x9F if c == 0xED else 0xBF
        elif 0xF0 <= c <= 0xF4:
            extra = 3
            c1 = 0x90 if c == 0xF0 else 0x80
            cp = 0x8F if c == 0xF4 else 0xBF
        else:
            _fail("invalid UTF-8", i)
        if i + extra >= n or not (c1 <= b[i + 1] <= cp):
            _fail("invalid UTF-8", i)
        for j in range(2, extra + 1):
            if not (0x80 <= b[i + j] <= 0xBF):
                _fail("invalid UTF-8", i)
        i += extra + 1
    _fail("unterminated string", i)
    return -1


cdef Py_ssize_t _number(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, bint json_strict) except -1:
    """Validate a decimal number; return its end. JSON grammar, or (not strict) digits with leading zeros."""
    cdef Py_ssize_t s = i
    if json_strict and i < n and b[i] == 45:
        i += 1
    if i >= n or not (48 <= b[i] <= 57):
        _fail("expected a number", i)
    if json_strict and b[i] == 48:
        i += 1
    else:
        while i < n and 48 <= b[i] <= 57:
            i += 1
    if i < n and b[i] == 46:
        i += 1
        if i >= n or not (48 <= b[i] <= 57):
            _fail("bad fraction", i)
        while i < n and 48 <= b[i] <= 57:
            i += 1
    if i < n and (b[i] == 101 or b[i] == 69):
        i += 1
        if i < n and (b[i] == 43 or b[i] == 45):
            i += 1
        if i >= n or not (48 <= b[i] <= 57):
            _fail("bad exponent", i)
        while i < n and 48 <= b[i] <= 57:
            i += 1
    if i == s:
        _fail("expected a number", i)
    return i


cdef double _to_double(const unsigned char* b, Py_ssize_t i, Py_ssize_t e) noexcept:
    """Return the double nearest to the validated decimal b[i:e] (Clinger fast path, else strtod)."""
    cdef Py_ssize_t s = i
    cdef bint neg = False, inexact = False
    cdef uint64_t m = 0
    cdef int nd = 0
    cdef long exp10 = 0, ex = 0
    cdef bint exneg = False
    cdef unsigned char c
    cdef double v
    if b[i] == 45:
        neg = True
        i += 1
    while i < e and 48 <= b[i] <= 57:
        c = b[i] - 48
        if m == 0 and c == 0:
            pass
        elif nd < 19:
            m = m * 10 + c
            nd += 1
        else:
            exp10 += 1
            if c != 0:
                inexact = True
        i += 1
    if i < e and b[i] == 46:
        i += 1
        while i < e and 48 <= b[i] <= 57:
            c = b[i] - 48
            if m == 0 and c == 0:
                exp10 -= 1
            elif nd < 19:
                m = m * 10 + c
                nd += 1
                exp10 -= 1
            elif c != 0:
                inexact = True
            i += 1
    if i < e and (b[i] == 101 or b[i] == 69):
        i += 1
        if b[i] == 45:
            exneg = True
            i += 1
        elif b[i] == 43:
            i += 1
        while i < e and 48 <= b[i] <= 57:
            if ex < 100000:
                ex = ex * 10 + (b[i] - 48)
            i += 1
        exp10 += -ex if exneg else ex
    if m == 0:
        return -0.0 if neg else 0.0
    if not inexact and m <= 9007199254740992ULL and -22 <= exp10 <= 22:    # C literal: no Python int
        if exp10 >= 0:
            v = <double>m * POW10[exp10]
        else:
            v = <double>m / POW10[-exp10]
        return -v if neg else v
    return strtod(<const char*>b + s, NULL)


cdef Py_ssize_t _int(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int64_t* out) except -1:
    """Parse a JSON integer into int64 (no fraction or exponent); return its end."""
    cdef bint neg = False
    cdef uint64_t v = 0
    cdef uint64_t limit
    cdef Py_ssize_t s
    if i < n and b[i] == 45:
        neg = True
        i += 1
    s = i
    if i < n and b[i] == 48:
        i += 1
    else:
        while i < n and 48 <= b[i] <= 57:
            if v > 922337203685477580ULL:
                _fail("integer out of range", i)
            v = v * 10 + (b[i] - 48)
            i += 1
    if i == s:
        _fail("expected an integer", i)
    if i < n and (b[i] == 46 or b[i] == 101 or b[i] == 69):
        _fail("expected an integer", i)
    limit = 9223372036854775808ULL if neg else 9223372036854775807ULL
    if v > limit:
        _fail("integer out of range", i)
    out[0] = -(<int64_t>(v - 1)) - 1 if (neg and v > 0) else <int64_t>v
    return i


cdef Py_ssize_t _skip(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int depth) except -1:
    """Validate and skip any JSON value; return the index after it."""
    cdef bint esc
    cdef Py_ssize_t e
    cdef unsigned char c
    if depth > MAX_DEPTH:
        _fail("nesting too deep", i)
    i = _ws(b, i, n)
    if i >= n:
        _fail("unexpected end", i)
    c = b[i]
    if c == 34:
        return _string(b, i, n, &esc)
    if c == 123 or c == 91:
        i = _ws(b, i + 1, n)
        if i < n and b[i] == c + 2:
            return i + 1
        while True:
            if c == 123:
                if i >= n or b[i] != 34:
                    _fail("expected a key", i)
                i = _ws(b, _string(b, i, n, &esc), n)
                if i >= n or b[i] != 58:
                    _fail("expected ':'", i)
                i += 1
            i = _ws(b, _skip(b, i, n, depth + 1), n)
            if i < n and b[i] == 44:
                i = _ws(b, i + 1, n)
                continue
            if i < n and b[i] == c + 2:
                return i + 1
            _fail("expected ',' or a closing bracket", i)
    if c == 116 and i + 4 <= n and memcmp(b + i, b"true", 4) == 0:
        return i + 4
    if c == 102 and i + 5 <= n and memcmp(b + i, b"false", 5) == 0:
        return i + 5
    if c == 110 and i + 4 <= n and memcmp(b + i, b"null", 4) == 0:
        return i + 4
    e = _number(b, i, n, True)
    if not isfinite(_to_double(b, i, e)):
        _fail("number out of range", i)
    return e


cdef inline bint _is(const unsigned char* b, Py_ssize_t s, Py_ssize_t e, const char* lit, Py_ssize_t k) noexcept:
    return e - s == k and memcmp(b + s, lit, k) == 0


cdef class _Buffers:
    """Per-side price/quantity buffers, grown by doubling and reused across frames."""
    cdef object _bpx, _bqty, _apx, _aqty
    cdef double* _p[4]
    cdef Py_ssize_t _cap[2]
    cdef readonly Py_ssize_t n_bids, n_asks
    cdef object _views
    cdef Py_ssize_t _vb, _va

    def __cinit__(self):
        self._cap[0] = 0
        self._cap[1] = 0
        self._grow(0, INITIAL_CAP)
        self._grow(1, INITIAL_CAP)

    cdef object _new(self, object old, Py_ssize_t cap, Py_ssize_t keep, int k):
        cdef double[::1] mv
        arr = np.zeros(cap, dtype=np.float64)
        if old is not None and keep:
            arr[:keep] = old[:keep]
        mv = arr
        self._p[k] = &mv[0]
        return arr

    cdef int _grow(self, int side, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = max(need, 2 * self._cap[side])
        cdef Py_ssize_t keep = self.n_bids if side == 0 else self.n_asks
        if side == 0:
            self._bpx = self._new(self._bpx, cap, keep, 0)
            self._bqty = self._new(self._bqty, cap, keep, 1)
        else:
            self._apx = self._new(self._apx, cap, keep, 2)
            self._aqty = self._new(self._aqty, cap, keep, 3)
        self._cap[side] = cap
        self._views = None
        return 0

    cdef inline int _push(self, int side, double px, double qty) except -1:
        cdef Py_ssize_t k = self.n_bids if side == 0 else self.n_asks
        if k >= self._cap[side]:
            self._grow(side, k + 1)
        self._p[2 * side][k] = px
        self._p[2 * side + 1][k] = qty
        if side == 0:
            self.n_bids = k + 1
        else:
            self.n_asks = k + 1
        return 0

    def arrays(self):
        """Return (bid_px, bid_qty, ask_px, ask_qty) views of the last frame; valid until the next decode."""
        if self._views is None or self._vb != self.n_bids or self._va != self.n_asks:
            self._views = (self._bpx[: self.n_bids], self._bqty[: self.n_bids],
                           self._apx[: self.n_asks], self._aqty[: self.n_asks])
            self._vb = self.n_bids
            self._va = self.n_asks
        return self._views


cdef const unsigned char* _bytes_of(object raw, Py_ssize_t* n) except NULL:
    if isinstance(raw, bytes):
        n[0] = PyBytes_GET_SIZE(raw)
        return <const unsigned char*>PyBytes_AS_STRING(raw)
    if isinstance(raw, str):
        return <const unsigned char*>PyUnicode_AsUTF8AndSize(raw, n)
    if isinstance(raw, bytearray):
        n[0] = PyByteArray_GET_SIZE(raw)
        return <const unsigned char*>PyByteArray_AS_STRING(raw)
    raise TypeError(f"frame must be bytes or str, got {type(raw).__name__}")


# Binance field bits
cdef enum:
    F_E = 1
    F_T = 2
    F_S = 4
    F_BU = 8
    F_U = 16
    F_PU = 32
    F_B = 64
    F_A = 128
    F_LID = 256
    F_EV = 512
    F_STREAM = 1024
    F_DATA = 2048
    F_RESULT = 4096


cdef class BinanceDepthDecoder(_Buffers):
    """Decode Binance USDⓈ-M depth diffs (raw or combined-stream wrapped) and REST depth snapshots."""
    cdef readonly int64_t event_time_ms, transaction_time_ms
    cdef readonly int64_t first_update_id, final_update_id, prev_final_update_id, last_update_id
    cdef int _seen
    cdef object _raw
    cdef Py_ssize_t _ss, _se, _ys, _ye, _es, _ee

    def decode(self, raw):
        """Decode one frame; return its kind (KIND_DEPTH, KIND_SNAPSHOT, KIND_RESULT, KIND_OTHER).

        Raises ValueError on malformed input (then nothing decoded may be used).
        """
        cdef Py_ssize_t n
        cdef const unsigned char* b = _bytes_of(raw, &n)
        self.n_bids = 0
        self.n_asks = 0
        self._seen = 0
        self.event_time_ms = self.transaction_time_ms = 0
        self.first_update_id = self.final_update_id = self.prev_final_update_id = self.last_update_id = 0
        self._ss = self._se = self._ys = self._ye = self._es = self._ee = 0
        self._raw = raw
        cdef Py_ssize_t i = _ws(b, 0, n)
        if i >= n or b[i] != 123:
            _fail("expected an object", i)
        i = _ws(b, self._object(b, i, n, 0), n)
        if i != n:
            _fail("trailing data", i)
        cdef int seen = self._seen
        if seen & F_EV:
            if not _is(b, self._es, self._ee, b"depthUpdate", 11):
                return KIND_OTHER
            if (seen & (F_E | F_S | F_BU | F_U | F_PU | F_B | F_A)) != (F_E | F_S | F_BU | F_U | F_PU | F_B | F_A):
                _fail("depthUpdate lacks a required field", 0)
            return KIND_DEPTH
        if seen & F_LID:
            if (seen & (F_B | F_A)) != (F_B | F_A):
                _fail("snapshot lacks bids or asks", 0)
            return KIND_SNAPSHOT
        if seen & F_RESULT:
            return KIND_RESULT
        return KIND_OTHER

    cdef int _mark(self, int bit, Py_ssize_t pos) except -1:
        if self._seen & bit:
            _fail("duplicate key", pos)
        self._seen |= bit
        return 0

    cdef Py_ssize_t _object(self, const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int level) except -1:
        cdef Py_ssize_t ks, ke, p
        cdef bint esc
        i = _ws(b, i + 1, n)
        if i < n and b[i] == 125:
            return i + 1
        while True:
            if i >= n or b[i] != 34:
                _fail("expected a key", i)
            ks = i + 1
            i = _string(b, i, n, &esc)
            ke = i - 1
            if esc:
                _fail("escaped key", ks)
            i = _ws(b, i, n)
            if i >= n or b[i] != 58:
                _fail("expected ':'", i)
            i = _ws(b, i + 1, n)
            p = i
            if _is(b, ks, ke, b"b", 1) or _is(b, ks, ke, b"bids", 4):
                if i < n and b[i] == 91:
                    self._mark(F_B, p)
                    i = self._levels(b, i, n, 0)
                else:
                    i = _skip(b, i, n, 1)
            elif _is(b, ks, ke, b"a", 1) or _is(b, ks, ke, b"asks", 4):
                if i < n and b[i] == 91:
                    self._mark(F_A, p)
                    i = self._levels(b, i, n, 1)
                else:
                    i = _skip(b, i, n, 1)
            elif _is(b, ks, ke, b"e", 1):
                self._mark(F_EV, p)
                i = self._code(b, i, n, &self._es, &self._ee)
            elif _is(b, ks, ke, b"E", 1):
                self._mark(F_E, p)
                i = _int(b, i, n, &self.event_time_ms)
            elif _is(b, ks, ke, b"T", 1):
                self._mark(F_T, p)
                i = _int(b, i, n, &self.transaction_time_ms)
            elif _is(b, ks, ke, b"s", 1):
                self._mark(F_S, p)
                i = self._code(b, i, n, &self._ys, &self._ye)
            elif _is(b, ks, ke, b"U", 1):
                self._mark(F_BU, p)
                i = _int(b, i, n, &self.first_update_id)
            elif _is(b, ks, ke, b"u", 1):
                self._mark(F_U, p)
                i = _int(b, i, n, &self.final_update_id)
            elif _is(b, ks, ke, b"pu", 2):
                self._mark(F_PU, p)
                i = _int(b, i, n, &self.prev_final_update_id)
            elif _is(b, ks, ke, b"lastUpdateId", 12):
                self._mark(F_LID, p)
                i = _int(b, i, n, &self.last_update_id)
            elif level == 0 and _is(b, ks, ke, b"stream", 6):
                self._mark(F_STREAM, p)
                i = self._code(b, i, n, &self._ss, &self._se)
            elif level == 0 and _is(b, ks, ke, b"data", 4) and i < n and b[i] == 123:
                self._mark(F_DATA, p)
                i = self._object(b, i, n, 1)
            elif level == 0 and (_is(b, ks, ke, b"result", 6) or _is(b, ks, ke, b"id", 2)):
                self._seen |= F_RESULT
                i = _skip(b, i, n, 1)
            else:
                i = _skip(b, i, n, 1)
            i = _ws(b, i, n)
            if i < n and b[i] == 44:
                i = _ws(b, i + 1, n)
                continue
            if i < n and b[i] == 125:
                return i + 1
            _fail("expected ',' or '}'", i)

    cdef Py_ssize_t _code(self, const unsigned char* b, Py_ssize_t i, Py_ssize_t n,
                          Py_ssize_t* s, Py_ssize_t* e) except -1:
        cdef bint esc
        if i >= n or b[i] != 34:
            _fail("expected a string", i)
        s[0] = i + 1
        i = _string(b, i, n, &esc)
        e[0] = i - 1
        if esc:
            _fail("escaped string", s[0])
        return i

    cdef Py_ssize_t _levels(self, const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int side) except -1:
        cdef Py_ssize_t ps, pe, qs, qe
        cdef double px, qty
        cdef bint esc
        i = _ws(b, i + 1, n)
        if i < n and b[i] == 93:
            return i + 1
        while True:
            if i >= n or b[i] != 91:
                _fail("expected a [price, qty] level", i)
            i = _ws(b, i + 1, n)
            if i >= n or b[i] != 34:
                _fail("expected a price string", i)
            ps = i + 1
            pe = _number(b, ps, n, False)
            if pe >= n or b[pe] != 34:
                _fail("bad price", ps)
            i = _ws(b, pe + 1, n)
            if i >= n or b[i] != 44:
                _fail("expected ','", i)
            i = _ws(b, i + 1, n)
            if i >= n or b[i] != 34:
                _fail("expected a quantity string", i)
            qs = i + 1
            qe = _number(b, qs, n, False)
            if qe >= n or b[qe] != 34:
                _fail("bad quantity", qs)
            i = _ws(b, qe + 1, n)
            if i >= n or b[i] != 93:
                _fail("a level has exactly two fields", i)
            px = _to_double(b, ps, pe)
            qty = _to_double(b, qs, qe)
            if not (px > 0.0 and isfinite(px) and isfinite(qty)):
                _fail("price not positive and finite", ps)
            self._push(side, px, qty)
            i = _ws(b, i + 1, n)
            if i < n and b[i] == 44:
                i = _ws(b, i + 1, n)
                continue
            if i < n and b[i] == 93:
                return i + 1
            _fail("expected ',' or ']'", i)

    @property
    def symbol(self):
        """The event's `s` (str), or None when absent."""
        cdef Py_ssize_t n
        if not (self._seen & F_S):
            return None
        return PyUnicode_DecodeUTF8(<const char*>_bytes_of(self._raw, &n) + self._ys, self._ye - self._ys, NULL)

    @property
    def stream(self):
        """The combined-stream wrapper's `stream` name (str), or None when absent."""
        cdef Py_ssize_t n
        if not (self._seen & F_STREAM):
            return None
        return PyUnicode_DecodeUTF8(<const char*>_bytes_of(self._raw, &n) + self._ss, self._se - self._ss, NULL)


# Upbit field bits
cdef enum:
    G_TYPE = 1
    G_CODE = 2
    G_TMS = 4
    G_ST = 8
    G_OBU = 16
    G_STATUS = 32
    G_ERROR = 64
    H_AP = 1
    H_AS = 2
    H_BP = 4
    H_BS = 8


cdef class UpbitOrderbookDecoder(_Buffers):
    """Decode Upbit orderbook frames (DEFAULT or SIMPLE keys) into best-first per-side arrays.

    Levels with a price or size that is not positive are dropped (Upbit pads empty levels with 0).
    """
    cdef readonly int64_t timestamp_ms
    cdef readonly int stream_type
    cdef readonly str code
    cdef int _seen
    cdef str _last_code

    def decode(self, raw):
        """Decode one frame; return KIND_ORDERBOOK, KIND_STATUS, KIND_ERROR or KIND_OTHER.

        Raises ValueError on malformed input.
        """
        cdef Py_ssize_t n, ts = 0, te = 0, cs = 0, ce = 0, ss = 0, se = 0
        cdef const unsigned char* b = _bytes_of(raw, &n)
        self.n_bids = 0
        self.n_asks = 0
        self._seen = 0
        self.timestamp_ms = 0
        self.stream_type = C_STREAM_REALTIME
        self.code = None
        cdef Py_ssize_t i = _ws(b, 0, n)
        if i >= n or b[i] != 123:
            _fail("expected an object", i)
        i = _ws(b, self._object(b, i, n, &ts, &te, &cs, &ce, &ss, &se), n)
        if i != n:
            _fail("trailing data", i)
        cdef int seen = self._seen
        if seen & G_TYPE:
            if not _is(b, ts, te, b"orderbook", 9):
                return C_KIND_OTHER
            if (seen & (G_CODE | G_TMS | G_OBU)) != (G_CODE | G_TMS | G_OBU):
                _fail("orderbook lacks code, timestamp or units", 0)
            if seen & G_ST:
                if _is(b, ss, se, b"SNAPSHOT", 8):
                    self.stream_type = C_STREAM_SNAPSHOT
                elif not _is(b, ss, se, b"REALTIME", 8):
                    _fail("unknown stream_type", ss)
            self.code = self._code_str(b + cs, ce - cs)
            return C_KIND_ORDERBOOK
        if seen & G_STATUS:
            return C_KIND_STATUS
        if seen & G_ERROR:
            return C_KIND_ERROR
        return C_KIND_OTHER

    cdef str _code_str(self, const unsigned char* s, Py_ssize_t k):
        # A feed repeats a handful of market codes: reuse the last str when the bytes match.
        cdef Py_ssize_t m
        cdef const char* u
        if self._last_code is not None:
            u = PyUnicode_AsUTF8AndSize(self._last_code, &m)
            if m == k and memcmp(u, s, k) == 0:
                return self._last_code
        self._last_code = PyUnicode_DecodeUTF8(<const char*>s, k, NULL)
        return self._last_code

    cdef int _mark(self, int bit, Py_ssize_t pos) except -1:
        if self._seen & bit:
            _fail("duplicate key", pos)
        self._seen |= bit
        return 0

    cdef Py_ssize_t _object(self, const unsigned char* b, Py_ssize_t i, Py_ssize_t n,
                            Py_ssize_t* ts, Py_ssize_t* te, Py_ssize_t* cs, Py_ssize_t* ce,
                            Py_ssize_t* ss, Py_ssize_t* se) except -1:
        cdef Py_ssize_t ks, ke, p
        cdef bint esc
        i = _ws(b, i + 1, n)
        if i < n and b[i] == 125:
            return i + 1
        while True:
            if i >= n or b[i] != 34:
                _fail("expected a key", i)
            ks = i + 1
            i = _string(b, i, n, &esc)
            ke = i - 1
            if esc:
                _fail("escaped key", ks)
            i = _ws(b, i, n)
            if i >= n or b[i] != 58:
                _fail("expected ':'", i)
            i = _ws(b, i + 1, n)
            p = i
            if _is(b, ks, ke, b"obu", 3) or _is(b, ks, ke, b"orderbook_units", 15):
                if i < n and b[i] == 91:
                    self._mark(G_OBU, p)
                    i = self._units(b, i, n)
                else:
                    i = _skip(b, i, n, 1)
            elif _is(b, ks, ke, b"ty", 2) or _is(b, ks, ke, b"type", 4):
                self._mark(G_TYPE, p)
                i = _str_span(b, i, n, ts, te)
            elif _is(b, ks, ke, b"cd", 2) or _is(b, ks, ke, b"code", 4):
                self._mark(G_CODE, p)
                i = _str_span(b, i, n, cs, ce)
            elif _is(b, ks, ke, b"tms", 3) or _is(b, ks, ke, b"timestamp", 9):
                self._mark(G_TMS, p)
                i = _int(b, i, n, &self.timestamp_ms)
            elif _is(b, ks, ke, b"st", 2) or _is(b, ks, ke, b"stream_type", 11):
                self._mark(G_ST, p)
                i = _str_span(b, i, n, ss, se)
            elif _is(b, ks, ke, b"status", 6):
                self._seen |= G_STATUS
                i = _skip(b, i, n, 1)
            elif _is(b, ks, ke, b"error", 5):
                self._seen |= G_ERROR
                i = _skip(b, i, n, 1)
            else:
                i = _skip(b, i, n, 1)
            i = _ws(b, i, n)
            if i < n and b[i] == 44:
                i = _ws(b, i + 1, n)
                continue
            if i < n and b[i] == 125:
                return i + 1
            _fail("expected ',' or '}'", i)

    cdef Py_ssize_t _units(self, const unsigned char* b, Py_ssize_t i, Py_ssize_t n) except -1:
        cdef Py_ssize_t ks, ke, p, e
        cdef bint esc
        cdef int seen
        cdef double v, ap = 0.0, asz = 0.0, bp = 0.0, bsz = 0.0
        i = _ws(b, i + 1, n)
        if i < n and b[i] == 93:
            return i + 1
        while True:
            if i >= n or b[i] != 123:
                _fail("expected a unit object", i)
            seen = 0
            i = _ws(b, i + 1, n)
            if i < n and b[i] == 125:
                _fail("empty unit", i)
            while True:
                if (i + 3 < n and b[i] == 34 and b[i + 3] == 34 and (b[i + 1] == 97 or b[i + 1] == 98)
                        and (b[i + 2] == 112 or b[i + 2] == 115)):
                    ks = i + 1                  # SIMPLE keys "ap" "as" "bp" "bs": no escape possible
                    ke = i + 3
                    i += 4
                else:
                    if i >= n or b[i] != 34:
                        _fail("expected a key", i)
                    ks = i + 1
                    i = _string(b, i, n, &esc)
                    ke = i - 1
                    if esc:
                        _fail("escaped key", ks)
                i = _ws(b, i, n)
                if i >= n or b[i] != 58:
                    _fail("expected ':'", i)
                i = _ws(b, i + 1, n)
                p = i
                if _is(b, ks, ke, b"ap", 2) or _is(b, ks, ke, b"ask_price", 9):
                    seen = _unit_bit(seen, H_AP, p)
                    i = _num(b, i, n, &ap)
                elif _is(b, ks, ke, b"as", 2) or _is(b, ks, ke, b"ask_size", 8):
                    seen = _unit_bit(seen, H_AS, p)
                    i = _num(b, i, n, &asz)
                elif _is(b, ks, ke, b"bp", 2) or _is(b, ks, ke, b"bid_price", 9):
                    seen = _unit_bit(seen, H_BP, p)
                    i = _num(b, i, n, &bp)
                elif _is(b, ks, ke, b"bs", 2) or _is(b, ks, ke, b"bid_size", 8):
                    seen = _unit_bit(seen, H_BS, p)
                    i = _num(b, i, n, &bsz)
                else:
                    i = _skip(b, i, n, 2)
                i = _ws(b, i, n)
                if i < n and b[i] == 44:
                    i = _ws(b, i + 1, n)
                    continue
                if i < n and b[i] == 125:
                    i += 1
                    break
                _fail("expected ',' or '}'", i)
            if seen != (H_AP | H_AS | H_BP | H_BS):
                _fail("unit lacks a price or size", i)
            if bp > 0.0 and bsz > 0.0:
                self._push(0, bp, bsz)
            if ap > 0.0 and asz > 0.0:
                self._push(1, ap, asz)
            i = _ws(b, i, n)
            if i < n and b[i] == 44:
                i = _ws(b, i + 1, n)
                continue
            if i < n and b[i] == 93:
                return i + 1
            _fail("expected ',' or ']'", i)


cdef int _unit_bit(int seen, int bit, Py_ssize_t pos) except -1:
    if seen & bit:
        _fail("duplicate key", pos)
    return seen | bit


cdef Py_ssize_t _num(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, double* out) except -1:
    """Parse a JSON number that must be finite and >= 0."""
    cdef Py_ssize_t j = i, d, e
    cdef uint64_t m = 0
    cdef double v
    # One pass for the common shape (Upbit's prices and sizes): "0" or [1-9][0-9]*, optionally
    # "." [0-9]+, at most 19 characters, no sign or exponent. The value is the one _to_double
    # gives for it (m / 10**fraction_digits, exact when m <= 2**53); any other shape, or a
    # digit run that does not end there, takes the general path below (same errors as before).
    if j < n and b[j] == 48:
        j += 1
    else:
        while j < n and 48 <= b[j] <= 57:
            m = m * 10 + (b[j] - 48)
            j += 1
    d = 0
    if j > i and j < n and b[j] == 46:
        j += 1
        while j < n and 48 <= b[j] <= 57:
            m = m * 10 + (b[j] - 48)
            j += 1
            d += 1
        if d == 0:
            j = i                               # "1." is malformed: let the general path say so
    if (j > i and j - i <= 19 and m <= 9007199254740992ULL
            and not (j < n and (b[j] == 101 or b[j] == 69 or 48 <= b[j] <= 57))):
        out[0] = <double>m / POW10[d] if d else <double>m
        return j
    e = _number(b, i, n, True)
    v = _to_double(b, i, e)
    if not isfinite(v) or v < 0.0:
        _fail("number not finite and >= 0", i)
    out[0] = v
    return e


cdef Py_ssize_t _str_span(const unsigned char* b, Py_ssize_t i, Py_ssize_t n,
                          Py_ssize_t* s, Py_ssize_t* e) except -1:
    cdef bint esc
    if i >= n or b[i] != 34:
        _fail("expected a string", i)
    s[0] = i + 1
    i = _string(b, i, n, &esc)
    e[0] = i - 1
    if esc:
        _fail("escaped string", s[0])
    return i
