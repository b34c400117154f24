"""Redis specifics the contract suite does not see: key layout, TTLs, restarts, connection errors."""
from __future__ import annotations

import time
from decimal import Decimal

import orjson
import pytest

from arbv2.adapters.redis.connection import connect_redis, ping_redis
from arbv2.adapters.redis.market_cache import RedisMarketCache
from arbv2.adapters.redis.state_store import DAILY_LOSS_TTL_S, RedisStateStore
from arbv2.core.model import TopOfBook, Venue


@pytest.fixture
async def client(redis_url):
    c = connect_redis(redis_url)
    yield c
    await c.aclose()


async def test_state_lives_under_the_state_prefix_and_survives_a_restart(redis_url, redis_prefix, client):
    store = await RedisStateStore.connect(redis_url, redis_prefix)
    await store.put("engine", {"mode": "paper", "kill_switch": True})
    await store.add_daily_loss("2024-06-01", Decimal("1500.5"))
    await store.close()
    assert orjson.loads(await client.get(f"{redis_prefix}state:engine")) == {"mode": "paper", "kill_switch": True}
    assert await client.ttl(f"{redis_prefix}state:engine") == -1          # no expiry: state persists
    assert 0 < await client.ttl(f"{redis_prefix}state:daily_loss:2024-06-01") <= DAILY_LOSS_TTL_S
    again = await RedisStateStore.connect(redis_url, redis_prefix)      # the engine restarted
    try:
        assert await again.get("engine") == {"mode": "paper", "kill_switch": True}
        assert await again.add_daily_loss("2024-06-01", Decimal("0.5")) == Decimal("1501.0")
    finally:
        await again.close()


async def test_market_cache_is_a_hash_with_a_px_ttl(client, redis_prefix):
    cache = RedisMarketCache(client, prefix=redis_prefix, ttl_ms=100)
    await cache.put_top(TopOfBook(Venue.BINANCE_USDM, "BTC/USDT:USDT", 67000.1, 2.5, 67000.2, 1.0, 123), 0.021)
    key = f"{redis_prefix}market:binance_usdm:BTC/USDT:USDT"
    assert await client.hgetall(key) == {"bid": "67000.1", "bid_qty": "2.5", "ask": "67000.2", "ask_qty": "1.0",
                                         "ts_ns": "123", "premium": "0.021"}
    assert 0 < await client.pttl(key) <= 100


async def test_default_prefix_is_v2(client):
    assert RedisMarketCache(client).key(Venue.UPBIT, "BTC/KRW") == "v2:market:upbit:BTC/KRW"
    assert RedisStateStore(client).key("engine") == "v2:state:engine"


async def test_unreachable_redis_fails_fast_with_its_address():
    dead = connect_redis("redis://127.0.0.1:1/0", connect_timeout_s=0.5, retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionError, match="127.0.0.1:1"):
            await ping_redis(dead)
    finally:
        await dead.aclose()
    assert time.monotonic() - started < 5
    with pytest.raises(ConnectionError):
        await RedisStateStore.connect("redis://127.0.0.1:1/0")


async def test_connection_has_timeouts_and_health_checks(client):
    kw = client.connection_pool.connection_kwargs
    assert kw["socket_timeout"] > 0 and kw["socket_connect_timeout"] > 0 and kw["health_check_interval"] > 0
    assert await client.ping() is True
