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
The JSON scanning primitives (strings, numbers, integers, skipping a value) are `cdef inline`
helpers in `_jsonscan.pxd`; this module holds the two decoders and their field logic.
"""
from libc.stdint cimport int64_t
from libc.string cimport memcmp
from libc.math cimport isfinite

from arbv2._fast._jsonscan cimport (_colon, _fail, _int, _is, _key, _num, _number, _skip, _str_span, _string,
                                    _to_double, _ws)

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
    INITIAL_CAP = 64
    # C twins of the Upbit constants above (a module-level Python name costs a dict lookup).
    C_KIND_OTHER = 0
    C_KIND_ORDERBOOK = 1
    C_KIND_STATUS = 2
    C_KIND_ERROR = 3
    C_STREAM_SNAPSHOT = 0
    C_STREAM_REALTIME = 1

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
        i = _ws(b, i + 1, n)
        if i < n and b[i] == 125:
            return i + 1
        while True:
            i = _key(b, i, n, &ks, &ke)
            i = _colon(b, i, n)
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
                i = _str_span(b, i, n, &self._es, &self._ee)
            elif _is(b, ks, ke, b"E", 1):
                self._mark(F_E, p)
                i = _int(b, i, n, &self.event_time_ms)
            elif _is(b, ks, ke, b"T", 1):
                self._mark(F_T, p)
                i = _int(b, i, n, &self.transaction_time_ms)
            elif _is(b, ks, ke, b"s", 1):
                self._mark(F_S, p)
                i = _str_span(b, i, n, &self._ys, &self._ye)
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
                i = _str_span(b, i, n, &self._ss, &self._se)
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

    cdef Py_ssize_t _levels(self, const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int side) except -1:
        cdef Py_ssize_t ps, pe, qs, qe
        cdef double px, qty
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
        i = _ws(b, i + 1, n)
        if i < n and b[i] == 125:
            return i + 1
        while True:
            i = _key(b, i, n, &ks, &ke)
            i = _colon(b, i, n)
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
