# cython: language_level=3
"""JSON scanning primitives shared by the compiled frame decoders (decode.pyx). Header only.

Every helper takes the frame as `b[0:n]` and a start index and returns the index after what it
scanned; the ones that validate raise ValueError through `_fail` (`except -1`), the others are
`noexcept nogil`. Strictness as documented in decode.pyx: escaped and lone-surrogate strings,
invalid UTF-8 and nesting deeper than MAX_DEPTH are rejected.
"""
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport strtod
from libc.string cimport memcmp
from libc.math cimport isfinite

cdef extern from *:
    """
    /* 10**k for k in 0..22: every one is exact in a double (Clinger's fast path). */
    static const double arbv2_json_pow10[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    """
    const double POW10 "arbv2_json_pow10"[23]

cdef enum:
    MAX_DEPTH = 64      # deepest nesting _skip accepts


cdef inline int _fail(str what, Py_ssize_t pos) except -1:
    raise ValueError(f"malformed frame: {what} at byte {pos}")


cdef inline Py_ssize_t _ws(const unsigned char* b, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (b[i] == 32 or b[i] == 10 or b[i] == 13 or b[i] == 9):
        i += 1
    return i


cdef inline bint _hex(unsigned char c) noexcept nogil:
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102)


cdef inline int _hexval(unsigned char c) noexcept nogil:
    if c <= 57:
        return c - 48
    if c <= 70:
        return c - 55
    return c - 87


cdef inline Py_ssize_t _string(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, bint* escaped) except -1:
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


cdef inline Py_ssize_t _number(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, bint json_strict) except -1:
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


cdef inline double _to_double(const unsigned char* b, Py_ssize_t i, Py_ssize_t e) noexcept nogil:
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


cdef inline Py_ssize_t _int(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int64_t* out) except -1:
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


cdef inline Py_ssize_t _skip(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, int depth) except -1:
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


cdef inline bint _is(const unsigned char* b, Py_ssize_t s, Py_ssize_t e, const char* lit, Py_ssize_t k) noexcept nogil:
    return e - s == k and memcmp(b + s, lit, k) == 0


cdef inline Py_ssize_t _num(const unsigned char* b, Py_ssize_t i, Py_ssize_t n, double* out) except -1:
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


cdef inline Py_ssize_t _str_span(const unsigned char* b, Py_ssize_t i, Py_ssize_t n,
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


cdef inline Py_ssize_t _key(const unsigned char* b, Py_ssize_t i, Py_ssize_t n,
                            Py_ssize_t* ks, Py_ssize_t* ke) except -1:
    """Read an unescaped object key at b[i]; set its span [ks, ke) and return the index after it."""
    cdef bint esc
    if i >= n or b[i] != 34:
        _fail("expected a key", i)
    ks[0] = i + 1
    i = _string(b, i, n, &esc)
    ke[0] = i - 1
    if esc:
        _fail("escaped key", ks[0])
    return i


cdef inline Py_ssize_t _colon(const unsigned char* b, Py_ssize_t i, Py_ssize_t n) except -1:
    """Skip whitespace, the ':' after a key and whitespace; return the index of the value."""
    i = _ws(b, i, n)
    if i >= n or b[i] != 58:
        _fail("expected ':'", i)
    return _ws(b, i + 1, n)
