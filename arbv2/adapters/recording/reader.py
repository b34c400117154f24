"""Read .arbrec recordings back in timestamp order, stopping cleanly at a torn tail."""
from __future__ import annotations

import types
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from arbv2.adapters.recording.format import (BLOCK_HEAD, BLOCK_MAGIC, HEADER_LEN, KIND_NAMES, MAGIC, RECORD_HEAD,
                                             VENUES)

_inflate: types.ModuleType
try:   # zlib-ng inflates the same zlib streams about twice as fast; the stdlib is the fallback
    from zlib_ng import zlib_ng as _inflate
except ImportError:  # pragma: no cover - depends on the environment
    _inflate = zlib


@dataclass(frozen=True, slots=True)
class Record:
    ts_recv_ns: int
    venue: str
    kind: str
    payload: bytes


@dataclass(slots=True)
class SegmentInfo:
    path: Path
    meta: dict[str, Any]
    records: int = 0
    torn_tail: bool = False


def segments(directory: str | Path) -> list[Path]:
    """Return the segment files of a recording in write order."""
    paths = sorted(Path(directory).glob("seg-*.arbrec"))
    if not paths:
        raise FileNotFoundError(f"{directory}: no .arbrec segments")
    return paths


def read_meta(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return _read_header(f.read(64 * 1024), path)[0]


def _read_header(data: bytes, path: Path) -> tuple[dict[str, Any], int]:
    if not data.startswith(MAGIC):
        raise ValueError(f"{path}: not an arbrec file (bad magic)")
    off = len(MAGIC)
    (hlen,) = HEADER_LEN.unpack_from(data, off)
    off += HEADER_LEN.size
    return orjson.loads(data[off:off + hlen]), off + hlen


def iter_segment(path: Path, info: SegmentInfo | None = None) -> Iterator[Record]:
    """Yield the records of one segment; a truncated or corrupt block ends it (torn tail)."""
    data = path.read_bytes()
    meta, off = _read_header(data, path)
    if info is not None:
        info.meta = meta
    while off < len(data):
        if len(data) - off < BLOCK_HEAD.size:
            break
        magic, raw_len, comp_len, crc = BLOCK_HEAD.unpack_from(data, off)
        start = off + BLOCK_HEAD.size
        comp = data[start:start + comp_len]
        if magic != BLOCK_MAGIC or len(comp) < comp_len or _inflate.crc32(comp) != crc:
            break
        raw = _inflate.decompress(comp)
        if len(raw) != raw_len:
            break
        off = start + comp_len
        pos = 0
        while pos < len(raw):
            ts, venue, kind, n = RECORD_HEAD.unpack_from(raw, pos)
            pos += RECORD_HEAD.size
            if info is not None:
                info.records += 1
            yield Record(ts, VENUES[venue], KIND_NAMES[kind], raw[pos:pos + n])
            pos += n
    else:
        return
    if info is not None:
        info.torn_tail = True


def read_recording(directory: str | Path, start_ns: int | None = None, end_ns: int | None = None) -> Iterator[Record]:
    """Yield every record of a recording in write order, within [start_ns, end_ns) if given."""
    for path in segments(directory):
        for rec in iter_segment(path):
            if start_ns is not None and rec.ts_recv_ns < start_ns:
                continue
            if end_ns is not None and rec.ts_recv_ns >= end_ns:
                return
            yield rec


def recording_span(directory: str | Path) -> tuple[int, int, int]:
    """Return (first ts_recv_ns, last ts_recv_ns, record count) of a recording (reads it all)."""
    first = last = None
    n = 0
    for ts, _, _, _ in iter_frames(directory):
        if first is None:
            first = ts
        last = ts
        n += 1
    if first is None:
        raise ValueError(f"{directory}: the recording holds no complete record")
    return first, last, n


def iter_blocks(directory: str | Path, progress: list[int] | None = None) -> Iterator[bytes]:
    """Yield the decompressed record bytes of every complete block, in write order.

    Each block's length and CRC are checked as `iter_segment` does; a segment ends at its first
    torn or corrupt block. `progress`, when given, is a two-item list [bytes read, total bytes]
    updated per block. Records inside a block: `RECORD_HEAD` (ts, venue index, kind index,
    payload length) then the payload; `iter_frames` and the replay driver walk them.
    """
    paths = segments(directory)
    if progress is not None:
        progress[:] = [0, sum(p.stat().st_size for p in paths)]
    unpack_block = BLOCK_HEAD.unpack_from
    head = BLOCK_HEAD.size
    crc32, decompress = _inflate.crc32, _inflate.decompress
    for path in paths:
        data = path.read_bytes()
        _, off = _read_header(data, path)
        size = len(data)
        while size - off >= head:
            magic, raw_len, comp_len, crc = unpack_block(data, off)
            start = off + head
            comp = data[start:start + comp_len]
            if magic != BLOCK_MAGIC or len(comp) < comp_len or crc32(comp) != crc:
                break
            raw = decompress(comp)
            if len(raw) != raw_len:
                break
            off = start + comp_len
            if progress is not None:
                progress[0] += head + comp_len
            yield raw


def iter_frames(directory: str | Path, start_ns: int | None = None, end_ns: int | None = None,
                progress: list[int] | None = None) -> Iterator[tuple[int, str, str, bytes]]:
    """Yield (ts_recv_ns, venue, kind, payload) tuples: no object per record.

    Same records, order and torn-tail rule as `read_recording`; `progress`, when given, is a
    two-item list [bytes read, total bytes] updated per block for a progress bar.
    """
    unpack_rec = RECORD_HEAD.unpack_from
    rec_size = RECORD_HEAD.size
    lo = start_ns if start_ns is not None else -1
    hi = end_ns if end_ns is not None else 1 << 64
    venues, kinds = VENUES, KIND_NAMES
    for raw in iter_blocks(directory, progress):
        pos, end = 0, len(raw)
        while pos < end:
            ts, venue, kind, n = unpack_rec(raw, pos)
            pos += rec_size
            if ts >= hi:
                return
            if ts >= lo:
                yield ts, venues[venue], kinds[kind], raw[pos:pos + n]
            pos += n
