"""Binance book sync follows the venue's documented procedure; any gap unsyncs only that symbol."""
from __future__ import annotations

import numpy as np

from arbv2._fast import book as fast_book
from arbv2.adapters.binance.book_sync import APPLIED, BUFFERED, DROPPED, GAP, STALE, SYNCED, BookSync


def lv(*pairs):
    a = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1])


def diff(sync, U, u, pu, bids=(), asks=()):
    bp, bq = lv(*bids) if bids else (np.empty(0), np.empty(0))
    ap, aq = lv(*asks) if asks else (np.empty(0), np.empty(0))
    return sync.on_diff(U, u, pu, bp, bq, ap, aq)


def snap(sync, lid, bids, asks):
    return sync.on_snapshot(lid, *lv(*bids), *lv(*asks))


def new():
    return BookSync(fast_book.L2Book(64))


def test_buffer_then_snapshot_drops_old_and_applies_the_straddling_event():
    s = new()
    assert diff(s, 90, 95, 89, bids=[(99.0, 5.0)]) == BUFFERED       # u < lastUpdateId: dropped at sync
    assert diff(s, 96, 105, 95, bids=[(100.0, 2.0)]) == BUFFERED     # U <= 100 <= u: first applied
    assert diff(s, 106, 110, 105, asks=[(101.0, 0.0)]) == BUFFERED
    assert snap(s, 100, [(100.0, 1.0), (99.0, 7.0)], [(101.0, 3.0), (102.0, 4.0)]) == SYNCED
    assert s.synced and s.last_u == 110
    assert s.book.bids(5).tolist() == [[100.0, 2.0], [99.0, 7.0]]   # 99 keeps the snapshot's qty
    assert s.book.asks(5).tolist() == [[102.0, 4.0]]
    assert diff(s, 111, 112, 110, bids=[(99.5, 1.0)]) == APPLIED
    assert s.book.best_bid() == (100.0, 2.0) and len(s.book) == 4


def test_pu_mismatch_is_a_gap_and_nothing_is_applied_past_it():
    s = new()
    snap(s, 10, [(1.0, 1.0)], [(2.0, 1.0)])
    assert diff(s, 9, 11, 8, bids=[(1.5, 1.0)]) == APPLIED
    assert diff(s, 13, 14, 12, bids=[(1.8, 1.0)]) == GAP              # pu 12 != previous u 11
    assert not s.synced and s.gaps == 1
    assert s.book.best_bid() == (1.5, 1.0)
    assert diff(s, 15, 16, 14, bids=[(1.9, 1.0)]) == BUFFERED
    assert snap(s, 14, [(1.7, 2.0)], [(2.0, 1.0)]) == SYNCED         # 13..14 straddles 14: applied, then 15..16
    assert s.book.bids(3).tolist() == [[1.9, 1.0], [1.8, 1.0], [1.7, 2.0]]


def test_snapshot_older_than_the_stream_is_stale_and_keeps_the_buffer():
    s = new()
    diff(s, 50, 60, 49, bids=[(1.0, 1.0)])
    assert snap(s, 40, [(1.0, 9.0)], [(2.0, 1.0)]) == STALE
    assert not s.synced and len(s.buffer) == 1
    assert snap(s, 55, [(1.0, 9.0)], [(2.0, 1.0)]) == SYNCED
    assert s.book.best_bid() == (1.0, 1.0)


def test_first_event_after_snapshot_must_straddle_it():
    s = new()
    snap(s, 100, [(1.0, 1.0)], [(2.0, 1.0)])
    assert diff(s, 90, 99, 89) == DROPPED
    assert diff(s, 102, 105, 101) == GAP                              # U > lastUpdateId: a hole after it
    s2 = new()
    snap(s2, 100, [(1.0, 1.0)], [(2.0, 1.0)])
    assert diff(s2, 100, 101, 99, asks=[(2.0, 0.0), (2.5, 1.0)]) == APPLIED
    assert s2.book.best_ask() == (2.5, 1.0)


def test_buffered_views_are_copied_not_aliased():
    s = new()
    bp, bq = lv((1.0, 1.0))
    s.on_diff(5, 6, 4, bp, bq, np.empty(0), np.empty(0))
    bp[0], bq[0] = 7.0, 7.0                                            # the decoder reuses its buffers
    assert snap(s, 5, [(0.5, 1.0)], [(2.0, 1.0)]) == SYNCED
    assert s.book.best_bid() == (1.0, 1.0)


def test_reset_forgets_sync_and_buffer():
    s = new()
    snap(s, 1, [(1.0, 1.0)], [(2.0, 1.0)])
    diff(s, 1, 2, 0)
    s.reset()
    assert not s.synced and not s.buffer
    assert diff(s, 3, 4, 2) == BUFFERED
