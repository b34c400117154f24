"""RecordingWriter: append raw frames with their receive timestamps to rotating segments."""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import orjson

from arbv2.adapters.recording.format import (BLOCK_HEAD, BLOCK_MAGIC, FORMAT_VERSION, HEADER_LEN, KINDS, MAGIC,
                                             RECORD_HEAD, VENUE_CODE)


class RecordingWriter:
    """Write records into block-compressed segments; flush a block by count or age.

    `max_block_records` and `max_block_age_ns` bound what a crash can lose (the unflushed
    block); `max_segment_bytes` and `max_segment_age_ns` rotate files.
    """

    def __init__(self, directory: str | Path, *, meta: dict[str, Any] | None = None,
                 max_block_records: int = 512, max_block_age_ns: int = 200_000_000,
                 max_segment_bytes: int = 64 << 20, max_segment_age_ns: int = 3600 * 10**9,
                 fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._meta = dict(meta or {})
        self._max_block_records = max_block_records
        self._max_block_age_ns = max_block_age_ns
        self._max_segment_bytes = max_segment_bytes
        self._max_segment_age_ns = max_segment_age_ns
        self._fsync = fsync
        self._file = None
        self._segment_start_ns = 0
        self._segment_bytes = 0
        self._segments = 0
        self._buf = bytearray()
        self._buf_records = 0
        self._buf_first_ns = 0
        self.records = 0

    def write(self, venue: str, kind: str, payload: bytes | str, ts_recv_ns: int) -> None:
        """Append one raw frame (or REST snapshot body) received at ts_recv_ns."""
        if isinstance(payload, str):
            payload = payload.encode()
        if self._file is None or self._segment_due(ts_recv_ns):
            self._rotate(ts_recv_ns)
        if not self._buf_records:
            self._buf_first_ns = ts_recv_ns
        self._buf += RECORD_HEAD.pack(ts_recv_ns, VENUE_CODE[venue], KINDS[kind], len(payload))
        self._buf += payload
        self._buf_records += 1
        self.records += 1
        if self._buf_records >= self._max_block_records or ts_recv_ns - self._buf_first_ns >= self._max_block_age_ns:
            self.flush()

    def flush(self) -> None:
        """Write the pending block whole and flush it to the OS (fsync when configured)."""
        if not self._buf_records or self._file is None:
            return
        raw = bytes(self._buf)
        comp = zlib.compress(raw, 6)
        block = BLOCK_HEAD.pack(BLOCK_MAGIC, len(raw), len(comp), zlib.crc32(comp)) + comp
        self._file.write(block)
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())
        self._segment_bytes += len(block)
        self._buf.clear()
        self._buf_records = 0

    def flush_if_due(self, now_ns: int) -> bool:
        """Flush the pending block once it is `max_block_age_ns` old, even if no frame arrives.

        A quiet feed would otherwise hold its last frames in memory indefinitely; the recorder
        calls this on a timer so a crash loses at most one block age of data.
        """
        if self._buf_records and now_ns - self._buf_first_ns >= self._max_block_age_ns:
            self.flush()
            return True
        return False

    @property
    def segments(self) -> int:
        """Number of segment files opened so far."""
        return self._segments

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _segment_due(self, ts_ns: int) -> bool:
        return (self._segment_bytes >= self._max_segment_bytes
                or ts_ns - self._segment_start_ns >= self._max_segment_age_ns)

    def _rotate(self, ts_ns: int) -> None:
        self.close()
        self._segments += 1
        path = self.directory / f"seg-{ts_ns:020d}-{self._segments:04d}.arbrec"
        meta = {"format": "arbrec", "version": FORMAT_VERSION, "created_ns": ts_ns,
                "venues": list(VENUE_CODE), "kinds": list(KINDS), **self._meta}
        header = orjson.dumps(meta, option=orjson.OPT_SORT_KEYS)
        self._file = open(path, "wb")
        self._file.write(MAGIC + HEADER_LEN.pack(len(header)) + header)
        self._file.flush()
        self._segment_start_ns = ts_ns
        self._segment_bytes = len(MAGIC) + HEADER_LEN.size + len(header)

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
