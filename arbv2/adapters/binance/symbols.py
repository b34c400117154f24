"""Binance USDⓈ-M symbols ("BTCUSDT") <-> unified linear-perpetual symbols ("BTC/USDT:USDT")."""
from __future__ import annotations

_QUOTES = ("USDT", "USDC")


def to_symbol(symbol: str) -> str:
    """Return the Binance symbol of a unified perp symbol ("BTC/USDT:USDT" -> "BTCUSDT")."""
    base, sep, rest = symbol.partition("/")
    quote, colon, settle = rest.partition(":")
    if not sep or not base or not quote or not colon or settle != quote:
        raise ValueError(f"symbol: {symbol!r} is not a linear perpetual like 'BTC/USDT:USDT'")
    return f"{base.upper()}{quote.upper()}"


def from_symbol(symbol: str, quote: str | None = None) -> str:
    """Return the unified symbol of a Binance perp symbol ("BTCUSDT" -> "BTC/USDT:USDT")."""
    s = symbol.upper()
    for q in ((quote.upper(),) if quote else _QUOTES):
        if s.endswith(q) and len(s) > len(q):
            return f"{s[:-len(q)]}/{q}:{q}"
    raise ValueError(f"symbol: {symbol!r} is not a USDⓈ-M perpetual like 'BTCUSDT'")
