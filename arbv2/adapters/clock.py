"""The wall clock behind the Clock port (now_ns = time.time_ns, monotonic_ns = time.monotonic_ns).

One implementation only: it lives in arbv2.adapters.common.clock (the trading adapters' default)
and is re-exported here as the name the composition root and the feeds use.
"""
from arbv2.adapters.common.clock import SystemClock

__all__ = ["SystemClock"]
