"""Readable twin of `arbv2._fast.decode`: orjson + float(), the definition the compiled decoders must match.

Used by the equality tests and as the obviously-correct statement of what a frame means. Not on
the hot path. Results are plain tuples/lists so tests can compare them with the compiled
decoders' arrays exactly.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import orjson

KIND_OTHER, KIND_DEPTH, KIND_SNAPSHOT, KIND_RESULT = 0, 1, 2, 3
KIND_ORDERBOOK, KIND_STATUS, KIND_ERROR = 1, 2, 3
STREAM_SNAPSHOT, STREAM_REALTIME = 0, 1

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_INT64 = (-(2**63), 2**63 - 1)


@dataclass
class Decoded:
    """One decoded frame: kind, header fields, and per-side (price, qty) lists in frame order."""

    kind: int = KIND_OTHER
    header: dict = field(default_factory=dict)
    bids: list[tuple[float, float]] = field(default_factory=list)
    asks: list[tuple[float, float]] = field(default_factory=list)


def _load(raw: bytes | str) -> dict:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"malformed frame: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("malformed frame: expected an object")
    return obj


def _int(v: object, name: str) -> int:
    if type(v) is not int or not _INT64[0] <= v <= _INT64[1]:
        raise ValueError(f"malformed frame: {name} must be an int64")
    return v


def _str(v: object, name: str) -> str:
    if type(v) is not str:
        raise ValueError(f"malformed frame: {name} must be a string")
    return v


def _decimal(v: object) -> float:
    if type(v) is not str or not _DECIMAL.match(v):
        raise ValueError("malformed frame: a level price/qty must be a decimal string")
    return float(v)


def _binance_levels(v: object) -> list[tuple[float, float]]:
    out = []
    for lvl in v:  # type: ignore[union-attr]
        if type(lvl) is not list or len(lvl) != 2:
            raise ValueError("malformed frame: a level has exactly two fields")
        px, qty = _decimal(lvl[0]), _decimal(lvl[1])
        if not (px > 0 and math.isfinite(px) and math.isfinite(qty)):
            raise ValueError("malformed frame: price not positive and finite")
        out.append((px, qty))
    return out


def _binance_fields(obj: dict, out: Decoded, top: bool) -> None:
    names = {"b": "bids", "bids": "bids", "a": "asks", "asks": "asks"}
    for key in ("b", "a"):
        if key in obj and names[key] + "" in obj and type(obj[key]) is list and type(obj[names[key]]) is list:
            raise ValueError("malformed frame: duplicate key")
    for key, v in obj.items():
        if key in names:
            if type(v) is list:
                getattr(out, names[key]).extend(_binance_levels(v))
                out.header["has_" + names[key]] = True
        elif key in ("e", "s"):
            out.header[key] = _str(v, key)
        elif key in ("E", "T", "U", "u", "pu", "lastUpdateId"):
            out.header[key] = _int(v, key)
        elif top and key == "stream":
            out.header["stream"] = _str(v, key)
        elif top and key == "data" and type(v) is dict:
            _binance_fields(v, out, False)
        elif top and key in ("result", "id"):
            out.header["result"] = True


def decode_binance(raw: bytes | str) -> Decoded:
    """Return the decoded Binance depth diff / snapshot / other frame; ValueError when malformed."""
    obj = _load(raw)
    out = Decoded()
    _binance_fields(obj, out, True)
    h = out.header
    if "e" in h:
        if h["e"] != "depthUpdate":
            out.kind = KIND_OTHER
        elif all(k in h for k in ("E", "s", "U", "u", "pu", "has_bids", "has_asks")):
            out.kind = KIND_DEPTH
        else:
            raise ValueError("malformed frame: depthUpdate lacks a required field")
    elif "lastUpdateId" in h:
        if not ("has_bids" in h and "has_asks" in h):
            raise ValueError("malformed frame: snapshot lacks bids or asks")
        out.kind = KIND_SNAPSHOT
    elif h.get("result"):
        out.kind = KIND_RESULT
    return out


def _upbit_number(v: object) -> float:
    if type(v) not in (int, float):
        raise ValueError("malformed frame: a unit field must be a number")
    x = float(v)  # type: ignore[arg-type]
    if not math.isfinite(x) or x < 0:
        raise ValueError("malformed frame: number not finite and >= 0")
    return x


_UNIT_KEYS = {"ap": "ap", "ask_price": "ap", "as": "as", "ask_size": "as",
              "bp": "bp", "bid_price": "bp", "bs": "bs", "bid_size": "bs"}
_TOP_KEYS = {"ty": "type", "type": "type", "cd": "code", "code": "code", "tms": "tms",
             "timestamp": "tms", "st": "st", "stream_type": "st", "obu": "obu", "orderbook_units": "obu"}


def _one_of(obj: dict, table: dict[str, str], want: str, only_lists: bool = False) -> object:
    found = [k for k in obj if table.get(k) == want and (not only_lists or type(obj[k]) is list)]
    if len(found) > 1:
        raise ValueError("malformed frame: duplicate key")
    return obj[found[0]] if found else None


def decode_upbit(raw: bytes | str) -> Decoded:
    """Return the decoded Upbit orderbook / status / error / other frame; ValueError when malformed."""
    obj = _load(raw)
    out = Decoded()
    typ = _one_of(obj, _TOP_KEYS, "type")
    code = _one_of(obj, _TOP_KEYS, "code")
    tms = _one_of(obj, _TOP_KEYS, "tms")
    st = _one_of(obj, _TOP_KEYS, "st")
    units = _one_of(obj, _TOP_KEYS, "obu", only_lists=True)
    for name, v in (("type", typ), ("code", code), ("stream_type", st)):
        if v is not None or any(_TOP_KEYS.get(k) == name for k in obj):
            _str(v, name)
    if tms is not None or any(_TOP_KEYS.get(k) == "tms" for k in obj):
        _int(tms, "timestamp")
    if units is not None:
        for unit in units:  # type: ignore[union-attr]
            if type(unit) is not dict or not unit:
                raise ValueError("malformed frame: expected a unit object")
            vals = {}
            for k, v in unit.items():
                short = _UNIT_KEYS.get(k)
                if short is not None:
                    if short in vals:
                        raise ValueError("malformed frame: duplicate key")
                    vals[short] = _upbit_number(v)
            if len(vals) != 4:
                raise ValueError("malformed frame: unit lacks a price or size")
            if vals["bp"] > 0 and vals["bs"] > 0:
                out.bids.append((vals["bp"], vals["bs"]))
            if vals["ap"] > 0 and vals["as"] > 0:
                out.asks.append((vals["ap"], vals["as"]))
    if typ is not None:
        if typ != "orderbook":
            return Decoded(kind=KIND_OTHER)
        if code is None or tms is None or units is None:
            raise ValueError("malformed frame: orderbook lacks code, timestamp or units")
        stream = STREAM_REALTIME
        if st is not None:
            if st == "SNAPSHOT":
                stream = STREAM_SNAPSHOT
            elif st != "REALTIME":
                raise ValueError("malformed frame: unknown stream_type")
        out.kind = KIND_ORDERBOOK
        out.header = {"code": code, "timestamp": tms, "stream_type": stream}
        return out
    if "status" in obj:
        return Decoded(kind=KIND_STATUS)
    if "error" in obj:
        return Decoded(kind=KIND_ERROR)
    return Decoded(kind=KIND_OTHER)
