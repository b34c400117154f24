"""The .arbrec format: round trip, rotation, time windows and a torn tail."""
from __future__ import annotations

import pytest

from arbv2.adapters.recording.reader import SegmentInfo, iter_segment, read_meta, read_recording, segments
from arbv2.adapters.recording.writer import RecordingWriter


def frames(n: int):
    for i in range(n):
        venue = "upbit" if i % 2 else "binance_usdm"
        kind = "rest_book" if i % 50 == 0 else "ws"
        yield venue, kind, b'{"i":%d,"p":"100.5"}' % i, 1_000_000_000 + i * 1_000_000


def test_round_trip_preserves_every_record_and_order(tmp_path):
    with RecordingWriter(tmp_path, meta={"symbols": ["BTC"]}) as w:
        for f in frames(2000):
            w.write(*f)
    got = [(r.venue, r.kind, r.payload, r.ts_recv_ns) for r in read_recording(tmp_path)]
    assert got == list(frames(2000))
    meta = read_meta(segments(tmp_path)[0])
    assert meta["format"] == "arbrec" and meta["version"] == 1 and meta["symbols"] == ["BTC"]


def test_compression_actually_compresses(tmp_path):
    with RecordingWriter(tmp_path) as w:
        for f in frames(5000):
            w.write(*f)
    raw = sum(len(f[2]) + 14 for f in frames(5000))
    on_disk = sum(p.stat().st_size for p in segments(tmp_path))
    assert on_disk < raw / 2


def test_rotation_by_size_and_age(tmp_path):
    with RecordingWriter(tmp_path / "size", max_segment_bytes=4000, max_block_records=50) as w:
        for f in frames(3000):
            w.write(*f)
    assert len(segments(tmp_path / "size")) > 2
    assert len(list(read_recording(tmp_path / "size"))) == 3000
    with RecordingWriter(tmp_path / "age", max_segment_age_ns=500_000_000) as w:
        for f in frames(3000):  # 3 s of data at 1 ms spacing
            w.write(*f)
    assert len(segments(tmp_path / "age")) == 6


def test_time_window(tmp_path):
    with RecordingWriter(tmp_path) as w:
        for f in frames(100):
            w.write(*f)
    got = list(read_recording(tmp_path, start_ns=1_010_000_000, end_ns=1_020_000_000))
    assert [r.ts_recv_ns for r in got] == [1_000_000_000 + i * 1_000_000 for i in range(10, 20)]


@pytest.mark.parametrize("cut", [1, 7, 40])
def test_torn_tail_keeps_every_complete_block(tmp_path, cut):
    with RecordingWriter(tmp_path, max_block_records=100) as w:
        for f in frames(1000):
            w.write(*f)
    path = segments(tmp_path)[0]
    data = path.read_bytes()
    path.write_bytes(data[:-cut])  # a crash mid-write of the last block
    info = SegmentInfo(path, {})
    got = list(iter_segment(path, info))
    assert len(got) == 900 and info.torn_tail
    assert [r.payload for r in got] == [f[2] for f in list(frames(1000))[:900]]


def test_corrupt_block_stops_reading(tmp_path):
    with RecordingWriter(tmp_path, max_block_records=100) as w:
        for f in frames(300):
            w.write(*f)
    path = segments(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert len(list(iter_segment(path))) == 200


def test_not_a_recording(tmp_path):
    (tmp_path / "seg-1-1.arbrec").write_bytes(b"hello")
    with pytest.raises(ValueError, match="bad magic"):
        list(read_recording(tmp_path))
    with pytest.raises(FileNotFoundError):
        list(read_recording(tmp_path / "nothing"))
