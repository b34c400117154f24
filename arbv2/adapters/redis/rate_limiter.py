"""RedisRateLimiter: the same token buckets, shared by every process of a deployment.

One Lua script does refill, take and wait computation atomically on the hash
"<prefix>ratelimit:<bucket>" (fields t<i>/l<i>: tokens and last refill per window). Time is the
injected clock's wall time, passed in, so every process on the host agrees on it. `penalize` is
synchronous (port contract): it applies to this process at once and is written to Redis with the
next call (or by a tracked task when an event loop is running).
"""
from __future__ import annotations

import asyncio
import logging

from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.common.rate_limits import DEFAULT_BUCKETS, BucketSpec, spec_for
from arbv2.ports.clock import Clock

log = logging.getLogger(__name__)

# KEYS[1] bucket hash. ARGV: now_s, weight (0 = only read headroom), penalty_until_s (0 = none),
# then limit, period_s for each window. Returns {wait_s, headroom} as strings.
_SCRIPT = """
local now = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local pen = tonumber(ARGV[3])
local wait = 0
local head = 1
local ttl = 0
local n = (#ARGV - 3) / 2
for i = 1, n do
  local limit = tonumber(ARGV[2 + 2 * i])
  local period = tonumber(ARGV[3 + 2 * i])
  local rate = limit / period
  local t = tonumber(redis.call('HGET', KEYS[1], 't' .. i) or limit)
  local l = tonumber(redis.call('HGET', KEYS[1], 'l' .. i) or now)
  if now > l then
    t = math.min(limit, t + (now - l) * rate)
    l = now
  end
  if pen > now then
    t = math.min(t, 0)
    l = math.max(l, pen)
  end
  t = t - weight
  local w = math.max(0, l - now) + math.max(0, -t) / rate
  if w > wait then wait = w end
  local h = 0
  if l <= now then h = math.max(0, t) / limit end
  if h < head then head = h end
  redis.call('HSET', KEYS[1], 't' .. i, string.format('%.6f', t), 'l' .. i, string.format('%.6f', l))
  local keep = (l - now) + period * 2
  if keep > ttl then ttl = keep end
end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return {string.format('%.6f', wait), string.format('%.6f', head)}
"""


class RedisRateLimiter:
    """RateLimiter port on Redis (redis.asyncio client), atomic across processes."""

    def __init__(self, redis, *, prefix: str = "v2:", clock: Clock | None = None,
                 buckets: dict[str, BucketSpec] | None = None) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock or SystemClock()
        self._specs = dict(buckets or DEFAULT_BUCKETS)
        self._script = redis.register_script(_SCRIPT)
        self._penalties: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()

    def key(self, bucket: str) -> str:
        return f"{self._prefix}ratelimit:{bucket}"

    def _now_s(self) -> float:
        return self._clock.now_ns() / 1e9

    async def _run(self, bucket: str, weight: int) -> tuple[float, float]:
        spec = spec_for(self._specs, bucket)
        if weight > min(limit for limit, _ in spec):
            raise ValueError(f"{bucket}: weight {weight} exceeds the bucket size")
        now_s = self._now_s()
        pen = self._penalties.pop(bucket, 0.0)
        args: list[str] = [f"{now_s:.6f}", str(weight), f"{pen:.6f}"]
        for limit, period in spec:
            args += [str(limit), str(period)]
        try:
            wait, head = await self._script(keys=[self.key(bucket)], args=args)
        except BaseException:
            if pen:  # not written: keep it for the next call
                self._penalties[bucket] = max(pen, self._penalties.get(bucket, 0.0))
            raise
        return float(wait), float(head)

    async def acquire(self, bucket: str, weight: int = 1) -> float:
        wait, _ = await self._run(bucket, weight)
        if wait > 0:
            await self._clock.sleep(wait)
        return wait

    async def headroom(self, bucket: str) -> float:
        _, head = await self._run(bucket, 0)
        return head

    def penalize(self, bucket: str, seconds: float) -> None:
        spec_for(self._specs, bucket)
        until = self._now_s() + max(0.0, seconds)
        self._penalties[bucket] = max(until, self._penalties.get(bucket, 0.0))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._push(bucket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(self, bucket: str) -> None:
        if bucket not in self._penalties:
            return
        try:
            await self._run(bucket, 0)
        except Exception as exc:  # kept in _penalties, retried on the next call
            log.warning("rate limiter: could not publish penalty for %s: %s", bucket, exc)

    async def close(self) -> None:
        """Wait for penalty writes still in flight."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
