"""Stub for the compiled consolidated book (arbv2/_fast/consolidated.pyx)."""
from typing import Sequence

import numpy as np
import numpy.typing as npt

from arbv2._fast.book import L2Book

# Returns (bids (k,2) float64, bid_venues (k,) int64, asks (k,2) float64, ask_venues (k,) int64).
def consolidate(
    books: Sequence[L2Book],
    price_multipliers: Sequence[float] | npt.NDArray[np.float64],
    n: int,
    qty_multipliers: Sequence[float] | npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
