"""Rate-limit buckets as the venues define them: name -> windows of (limit, period_s).

A bucket with several windows (Binance orders: 300/10 s and 1200/min) admits a request only when
every window has room. Both RateLimiter adapters (memory, Redis) read these specs.
"""
from __future__ import annotations

from arbv2.core.config import Config

BucketSpec = tuple[tuple[float, float], ...]

DEFAULT_BUCKETS: dict[str, BucketSpec] = {
    # Upbit: per-second groups (Remaining-Req "group=..."); exchange groups per account.
    "upbit:order": ((8, 1.0),),
    "upbit:default": ((30, 1.0),),
    "upbit:query": ((30, 1.0),),
    "upbit:market": ((10, 1.0),),
    "upbit:orderbook": ((10, 1.0),),
    "upbit:ticker": ((10, 1.0),),
    "upbit:candle": ((10, 1.0),),
    "upbit:trade": ((10, 1.0),),
    "upbit:order-test": ((8, 1.0),),
    "upbit:order-cancel-all": ((1, 2.0),),
    # Binance USDⓈ-M: IP request weight per minute, account order counts.
    "binance:weight": ((2400, 60.0),),
    "binance:order": ((300, 10.0), (1200, 60.0)),
}


def buckets_from_config(cfg: Config) -> dict[str, BucketSpec]:
    """Return DEFAULT_BUCKETS with the configured venue limits applied."""
    out = dict(DEFAULT_BUCKETS)
    out["upbit:order"] = ((cfg.venues.upbit.order_rate_per_s, 1.0),)
    out["upbit:default"] = ((cfg.venues.upbit.query_rate_per_s, 1.0),)
    out["upbit:query"] = ((cfg.venues.upbit.query_rate_per_s, 1.0),)
    out["binance:weight"] = ((cfg.venues.binance_usdm.weight_limit_per_min, 60.0),)
    return out


def spec_for(buckets: dict[str, BucketSpec], bucket: str) -> BucketSpec:
    try:
        return buckets[bucket]
    except KeyError:
        raise ValueError(f"unknown rate-limit bucket {bucket!r}; known: {', '.join(sorted(buckets))}") from None
