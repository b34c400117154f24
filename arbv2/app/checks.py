"""Named checks with a result table: shared by `arbv2 doctor` and `arbv2 preflight`."""
from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from arbv2.core.config import Config


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    skipped: bool = False


Check = Callable[[], Awaitable[CheckResult]]


async def run_checks(checks: list[tuple[str, Check]], timeout_s: float = 10.0) -> list[CheckResult]:
    """Run each check under a timeout; an exception is a failed check, never a crash."""
    results = []
    for name, check in checks:
        try:
            async with asyncio.timeout(timeout_s):
                results.append(await check())
        except TimeoutError:
            results.append(CheckResult(name, False, f"timed out after {timeout_s:.0f}s"))
        except Exception as exc:  # a broken check is reported as failed, with its reason
            results.append(CheckResult(name, False, f"{type(exc).__name__}: {exc}"))
    return results


def print_table(title: str, results: list[CheckResult], out=sys.stdout) -> None:
    width = max([len(r.name) for r in results] + [5])
    print(title, file=out)
    for r in results:
        status = "SKIP" if r.skipped else ("PASS" if r.ok else "FAIL")
        print(f"  {r.name:<{width}}  {status:<4}  {r.detail}", file=out)
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(results) - failed}/{len(results)} checks passed", file=out)


# ---------------------------------------------------------------- the checks doctor and preflight share

def check_python() -> Check:
    async def run() -> CheckResult:
        ok = sys.version_info >= (3, 11)
        return CheckResult("python", ok, f"{sys.version.split()[0]} (need >= 3.11)")
    return run


KERNEL_MODULES = ("book", "consolidated", "spread", "decode")


def check_kernels() -> Check:
    async def run() -> CheckResult:
        import importlib

        import arbv2._fast as fast

        if not fast.COMPILED:
            return CheckResult("kernels", False, "reference implementations in use (ARBV2_NO_EXTENSIONS=1)")
        for name in KERNEL_MODULES:
            module = importlib.import_module(f"arbv2._fast.{name}")
            if not str(getattr(module, "__file__", "")).endswith((".so", ".pyd")):
                return CheckResult("kernels", False, f"arbv2._fast.{name} is not a compiled extension")
        return CheckResult("kernels", True, "compiled: " + ", ".join(KERNEL_MODULES))
    return run


def check_config(cfg: Config, source: str) -> Check:
    async def run() -> CheckResult:
        return CheckResult("config", True, f"{source}: mode={cfg.mode} symbols={','.join(cfg.symbols)} "
                                           f"hash={cfg.config_hash()}")
    return run


def check_postgres(cfg: Config) -> Check:
    async def run() -> CheckResult:
        dsn = cfg.secrets.database_url
        if not dsn:
            return CheckResult("postgres", True, "not configured (DATABASE_URL unset): memory trade store", True)
        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return CheckResult("postgres", True, f"reachable, server {version}")
    return run


def check_redis(cfg: Config) -> Check:
    async def run() -> CheckResult:
        url = cfg.secrets.redis_url
        if not url:
            return CheckResult("redis", True, "not configured (REDIS_URL unset): memory state store", True)
        import redis.asyncio as aioredis

        client = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        try:
            await client.ping()
            info = await client.info("server")
        finally:
            await client.aclose()
        return CheckResult("redis", True, f"reachable, server {info.get('redis_version', '?')}")
    return run


def check_clock() -> Check:
    async def run() -> CheckResult:
        wall = time.time()
        m0 = time.monotonic_ns()
        await asyncio.sleep(0.01)
        elapsed_ms = (time.monotonic_ns() - m0) / 1e6
        year = time.gmtime(wall).tm_year
        ok = 2024 <= year < 2100 and 5 <= elapsed_ms < 1000
        return CheckResult("clock", ok, f"UTC {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(wall))}, "
                                        f"monotonic 10 ms sleep took {elapsed_ms:.1f} ms")
    return run
