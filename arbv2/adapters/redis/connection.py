"""One way to open Redis for every arbv2 adapter (state store, market cache, rate limiter).

Every command has a timeout, idle connections are health-checked before reuse, and a dropped
connection is retried a few times with backoff before the error reaches the caller. Replies are
decoded to str. The seed's ports: 6379 inside containers and here, 6380 on the docker host
(infra/docker-compose.yml maps 6380->6379).
"""
from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def connect_redis(url: str = DEFAULT_URL, *, socket_timeout_s: float = 2.0, connect_timeout_s: float = 2.0,
                  health_check_interval_s: int = 15, retries: int = 3, max_connections: int = 32,
                  pool_timeout_s: float = 5.0) -> aioredis.Redis:
    """Return a Redis client for `url` (lazy: the first command connects; see `ping_redis`).

    The pool blocks up to pool_timeout_s for a free connection instead of failing at once, so a
    burst of WATCH transactions (each holds a connection) queues rather than errors.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        decode_responses=True,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=connect_timeout_s,
        socket_keepalive=True,
        health_check_interval=health_check_interval_s,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return aioredis.Redis.from_pool(pool)   # the client owns the pool and closes it


async def ping_redis(client: aioredis.Redis) -> None:
    """Raise ConnectionError with the URL's host:port when Redis does not answer PING."""
    try:
        if not await client.ping():
            raise ConnectionError("Redis answered PING falsy")
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        kw = client.connection_pool.connection_kwargs
        where = kw.get("path") or f"{kw.get('host', '?')}:{kw.get('port', '?')}"
        raise ConnectionError(f"Redis at {where} is unreachable: {exc}") from exc
