"""Consolidated cross-venue book: currency conversion, venue tags, top-N, ties."""
import numpy as np
import pytest

from arbv2._fast import book as compiled_book
from arbv2._fast import consolidated as compiled
from arbv2._fast import reference

IMPLS = [pytest.param((compiled_book.L2Book, compiled.consolidate), id="compiled"),
         pytest.param((reference.L2Book, reference.consolidate), id="reference")]


@pytest.mark.parametrize("impl", IMPLS)
def test_merges_krw_and_usdt_books_by_multiplier(impl):
    L2Book, consolidate = impl
    upbit, binance = L2Book(), L2Book()
    upbit.apply_snapshot([144_000_000.0, 143_856_000.0], [1.0, 2.0], [144_288_000.0], [0.5])
    binance.apply_snapshot([100_010.0, 99_950.0], [3.0, 4.0], [100_100.0, 100_300.0], [1.0, 2.0])
    bids, bid_v, asks, ask_v = consolidate([upbit, binance], [1 / 1440.0, 1.0], 3)
    # Upbit 144.0M / 1440 = 100000, 143.856M / 1440 = 99900; 144.288M / 1440 = 100200
    assert bids[:, 0] == pytest.approx([100_010.0, 100_000.0, 99_950.0])
    assert bids[:, 1].tolist() == [3.0, 1.0, 4.0] and bid_v.tolist() == [1, 0, 1]
    assert asks[:, 0] == pytest.approx([100_100.0, 100_200.0, 100_300.0])
    assert ask_v.tolist() == [1, 0, 1] and ask_v.dtype == np.int64


@pytest.mark.parametrize("impl", IMPLS)
def test_ties_go_to_lower_venue_and_qty_multiplier_applies(impl):
    L2Book, consolidate = impl
    a, b = L2Book(), L2Book()
    a.apply_snapshot([10.0], [1.0], [], [])
    b.apply_snapshot([0.01], [2.0], [0.02], [1.0])   # another unit: price x1000, qty /1000
    bids, bid_v, asks, ask_v = consolidate([b, a], [1000.0, 1.0], 10, [1 / 1000.0, 1.0])
    assert bid_v.tolist() == [0, 1] and bids[:, 1].tolist() == pytest.approx([0.002, 1.0])
    np.testing.assert_allclose(asks, [[20.0, 0.001]])
    assert ask_v.tolist() == [0]


@pytest.mark.parametrize("impl", IMPLS)
def test_rejects_bad_multipliers(impl):
    L2Book, consolidate = impl
    with pytest.raises(ValueError):
        consolidate([L2Book()], [0.0], 5)
    with pytest.raises(ValueError):
        consolidate([L2Book(), L2Book()], [1.0], 5)
    with pytest.raises(ValueError):
        consolidate([L2Book()], [1.0], -1)
