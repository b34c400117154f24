"""Upbit market codes (QUOTE-BASE, "KRW-BTC") <-> unified symbols (BASE/QUOTE, "BTC/KRW")."""
from __future__ import annotations


def to_market(symbol: str) -> str:
    """Return the Upbit market code of a unified symbol ("BTC/KRW" -> "KRW-BTC")."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote or ":" in quote:
        raise ValueError(f"symbol: {symbol!r} is not an Upbit spot symbol like 'BTC/KRW'")
    return f"{quote.upper()}-{base.upper()}"


def from_market(market: str) -> str:
    """Return the unified symbol of an Upbit market code ("KRW-BTC" -> "BTC/KRW")."""
    quote, sep, base = market.partition("-")
    if not sep or not quote or not base:
        raise ValueError(f"market: {market!r} is not an Upbit market code like 'KRW-BTC'")
    return f"{base.upper()}/{quote.upper()}"
