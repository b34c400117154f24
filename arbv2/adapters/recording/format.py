"""The .arbrec recording format: append-only, block-compressed, self-describing, crash-safe.

A recording is a directory of segment files `seg-<first_ts_ns>-<n>.arbrec`, rotated by size
and age. Each file is:

    file header : b"ARBREC1\\n" + u32 len + JSON metadata (format version, venues, symbols,
                  created_ns, recorder config) — what a reader needs to interpret the records
    blocks      : b"BLK1" + u32 raw_len + u32 comp_len + u32 crc32(comp) + zlib(records)
    record      : u64 ts_recv_ns + u8 venue + u8 kind + u32 len + payload (the raw bytes)

Blocks are written whole and flushed (by count or age), so a killed recorder leaves every
complete block readable; a reader stops cleanly at the first truncated or corrupt block.
Little-endian throughout.
"""
from __future__ import annotations

import struct

MAGIC = b"ARBREC1\n"
BLOCK_MAGIC = b"BLK1"
FORMAT_VERSION = 1

HEADER_LEN = struct.Struct("<I")
BLOCK_HEAD = struct.Struct("<4sIII")
RECORD_HEAD = struct.Struct("<QBBI")

VENUES = ("upbit", "binance_usdm")
VENUE_CODE = {v: i for i, v in enumerate(VENUES)}

KIND_WS = 0          # a WebSocket frame as received
KIND_REST_BOOK = 1   # a REST order book snapshot body fetched for book sync
KINDS = {"ws": KIND_WS, "rest_book": KIND_REST_BOOK}
KIND_NAMES = {v: k for k, v in KINDS.items()}
