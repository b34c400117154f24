"""The replay read path (iter_frames) agrees with read_recording; the writer's timed flush."""
from __future__ import annotations

from arbv2.adapters.recording.reader import iter_frames, read_recording, recording_span, segments
from arbv2.adapters.recording.writer import RecordingWriter
from arbv2.adapters.binance.market_data import snapshot_frame
from arbv2.app.recorder import FrameSink, is_snapshot_frame


def frames(n: int):
    for i in range(n):
        venue = "upbit" if i % 3 else "binance_usdm"
        kind = "rest_book" if i % 97 == 0 else "ws"
        yield venue, kind, b'{"i":%d}' % i, 5_000_000_000 + i * 7_000


def test_iter_frames_matches_read_recording_and_windows(tmp_path):
    with RecordingWriter(tmp_path, max_block_records=64, max_segment_bytes=3000) as w:
        for f in frames(3000):
            w.write(*f)
    assert len(segments(tmp_path)) > 1
    slow = [(r.ts_recv_ns, r.venue, r.kind, r.payload) for r in read_recording(tmp_path)]
    progress = [0, 0]
    fast = list(iter_frames(tmp_path, progress=progress))
    assert fast == slow and len(fast) == 3000
    assert progress[0] > 0 and progress[0] <= progress[1]
    lo, hi = 5_000_000_000 + 100 * 7_000, 5_000_000_000 + 200 * 7_000
    assert [f[0] for f in iter_frames(tmp_path, lo, hi)] == [r.ts_recv_ns for r in read_recording(tmp_path, lo, hi)]
    assert recording_span(tmp_path) == (5_000_000_000, 5_000_000_000 + 2999 * 7_000, 3000)


def test_torn_tail_stops_both_readers_at_the_same_record(tmp_path):
    with RecordingWriter(tmp_path, max_block_records=50) as w:
        for f in frames(500):
            w.write(*f)
    path = segments(tmp_path)[0]
    data = path.read_bytes()
    path.write_bytes(data[:-25])
    fast = list(iter_frames(tmp_path))
    assert len(fast) == 450
    assert fast == [(r.ts_recv_ns, r.venue, r.kind, r.payload) for r in read_recording(tmp_path)]


def test_flush_if_due_writes_a_quiet_feeds_last_frames(tmp_path):
    w = RecordingWriter(tmp_path, max_block_age_ns=200_000_000)
    w.write("upbit", "ws", b"{}", 1_000_000_000)
    assert list(iter_frames(tmp_path)) == []                    # still buffered
    assert not w.flush_if_due(1_100_000_000)
    assert w.flush_if_due(1_200_000_000)
    assert [f[0] for f in iter_frames(tmp_path)] == [1_000_000_000]
    w.close()


def test_sink_stores_feed_snapshots_as_rest_book_and_frames_as_ws(tmp_path):
    snap = snapshot_frame("BTCUSDT", b'{"lastUpdateId":5,"bids":[],"asks":[]}')
    diff = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT"}}'
    assert is_snapshot_frame(snap) and not is_snapshot_frame(diff)
    with RecordingWriter(tmp_path) as w:
        sink = FrameSink(w)
        sink("binance_usdm", snap, 1)
        sink("binance_usdm", diff, 2)
        sink("upbit", '{"ty":"orderbook"}', 3)
    got = list(iter_frames(tmp_path))
    assert got == [(1, "binance_usdm", "rest_book", snap), (2, "binance_usdm", "ws", diff),
                   (3, "upbit", "ws", b'{"ty":"orderbook"}')]
    assert sink.snapshots == 1 and sink.frames == {"upbit": 1, "binance_usdm": 1}
