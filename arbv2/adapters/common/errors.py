"""Pieces of error-response parsing that both venues share (the code/name mapping stays per venue)."""
from __future__ import annotations

from typing import Mapping


def parse_retry_after(headers: Mapping[str, str], default: float) -> float:
    """Return the Retry-After header in seconds (never negative), or `default` when absent or unparsable."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return default
