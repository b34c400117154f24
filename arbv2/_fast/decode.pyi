"""Stub for the compiled frame decoders (arbv2/_fast/decode.pyx). C types noted in comments.

Readable twin: arbv2/adapters/feeds/pydecode.py (orjson + float), held equal by tests.
"""
from typing import Final

import numpy as np
import numpy.typing as npt

KIND_OTHER: Final[int]      # 0: well-formed JSON of a kind the decoder does not handle
KIND_DEPTH: Final[int]      # 1: Binance depthUpdate diff
KIND_SNAPSHOT: Final[int]   # 2: Binance REST depth body
KIND_RESULT: Final[int]     # 3: Binance {"result":..,"id":..}
KIND_ORDERBOOK: Final[int]  # 1: Upbit orderbook
KIND_STATUS: Final[int]     # 2: Upbit {"status":"UP"}
KIND_ERROR: Final[int]      # 3: Upbit {"error":{...}}
STREAM_SNAPSHOT: Final[int]  # 0
STREAM_REALTIME: Final[int]  # 1

_F64 = npt.NDArray[np.float64]

class _Buffers:
    n_bids: int  # Py_ssize_t, levels decoded into the bid buffers by the last decode()
    n_asks: int  # Py_ssize_t
    # Views into reused buffers, in frame order; overwritten by the next decode().
    def arrays(self) -> tuple[_F64, _F64, _F64, _F64]: ...  # bid_px, bid_qty, ask_px, ask_qty

class BinanceDepthDecoder(_Buffers):
    event_time_ms: int         # int64 E
    transaction_time_ms: int   # int64 T (0 when absent)
    first_update_id: int       # int64 U
    final_update_id: int       # int64 u
    prev_final_update_id: int  # int64 pu
    last_update_id: int        # int64 lastUpdateId (snapshots)
    @property
    def symbol(self) -> str | None: ...  # the event's s
    @property
    def stream(self) -> str | None: ...  # the combined-stream wrapper's stream name
    def decode(self, raw: bytes | bytearray | str) -> int: ...  # raises ValueError when malformed

class UpbitOrderbookDecoder(_Buffers):
    timestamp_ms: int  # int64 tms
    stream_type: int   # STREAM_SNAPSHOT or STREAM_REALTIME
    code: str | None   # market code, e.g. "KRW-BTC"
    def decode(self, raw: bytes | bytearray | str) -> int: ...  # raises ValueError when malformed
