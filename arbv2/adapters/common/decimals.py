"""Exact decimal helpers for wire values: parse without float, quantize on a grid, print plainly."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation


def dec(value: object) -> Decimal:
    """Return `value` as a Decimal, going through str() so floats keep their printed digits."""
    if isinstance(value, Decimal):
        return value
    if value is None or isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def dec_or_zero(value: object) -> Decimal:
    """Return `value` as a Decimal, or 0 for None/empty (venues send null for absent amounts)."""
    if value is None or value == "":
        return Decimal(0)
    return dec(value)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Return the largest multiple of `step` that is <= value."""
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Return the smallest multiple of `step` that is >= value."""
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return (value % step) == 0


def plain(value: Decimal) -> str:
    """Return `value` as a plain string: no exponent, no trailing zeros ("0.00100" -> "0.001")."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def fixed(value: Decimal, step: Decimal) -> str:
    """Return `value` with exactly as many decimals as `step` has (Binance rejects more, -1111)."""
    places = max(0, -step.normalize().as_tuple().exponent)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")
