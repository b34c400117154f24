"""Preflight: may this config run now, here? Shared by `arbv2 preflight` and the engine's start.

Each check is one named line (PASS/FAIL/SKIP and a detail that never contains a secret value).
The venue checks probe each venue's REST API once (Upbit /v1/market/all and /v1/ticker,
Binance /fapi/v1/time and /fapi/v1/exchangeInfo) and judge markets, clock offset and rate-limit
headroom from those answers. Live never starts unless every check passes (`require_preflight`).
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Sequence

import aiohttp

from arbv2.adapters.common.safety import is_real_venue_url
from arbv2.app.checks import (Check, CheckResult, check_clock, check_config, check_postgres, check_redis,
                              run_checks)
from arbv2.core.config import LIVE_UNLOCK_ENV, LIVE_UNLOCK_VALUE, Config, entry_edge_bps, order_notional_krw
from arbv2.core.errors import SafetyError

log = logging.getLogger("arbv2.preflight")

UPBIT, BINANCE = "upbit", "binance_usdm"
API_KEY_NAMES = ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY", "BINANCE_API_KEY", "BINANCE_API_SECRET")
UPBIT_MIN_REMAINING_SEC = 2        # fewer calls left in this second than this: no headroom
BINANCE_MAX_WEIGHT_SHARE = 0.8     # more of the minute's weight used than this: no headroom
_REMAINING_SEC = re.compile(r"\bsec=(\d+)")


class ProbeError(Exception):
    """A venue's REST API did not answer as expected (unreachable, HTTP error, bad body)."""


@dataclass(slots=True)
class VenueInfo:
    """What one venue's REST probe learned: listed markets, server time and rate-limit headers."""

    markets: dict[str, str] = field(default_factory=dict)     # venue symbol -> status
    server_ms: float | None = None
    local_mid_ms: float = 0.0
    rtt_ms: float = 0.0
    used_weight: int | None = None        # Binance X-MBX-USED-WEIGHT-1M
    venue_weight_limit: int | None = None  # Binance exchangeInfo REQUEST_WEIGHT per minute
    remaining_sec: int | None = None      # Upbit Remaining-Req sec=


class _Probe:
    """Fetch a venue once per preflight; later checks reuse the answer (or the failure)."""

    def __init__(self, fetch: Callable[[], Awaitable[VenueInfo]]) -> None:
        self._fetch = fetch
        self._done: tuple[VenueInfo | None, str] | None = None

    async def get(self) -> VenueInfo:
        if self._done is None:
            try:
                self._done = (await self._fetch(), "")
            except (aiohttp.ClientError, ProbeError, ValueError, KeyError, TypeError) as exc:
                self._done = (None, f"{type(exc).__name__}: {exc}")
        info, error = self._done
        if info is None:
            raise ProbeError(error)
        return info


async def _get_json(session: aiohttp.ClientSession, base: str, path: str, timeout_s: float,
                    params: Mapping[str, str] | None = None) -> tuple[Any, Mapping[str, str], float, float]:
    t0 = time.time_ns()
    async with session.get(base.rstrip("/") + path, params=params,
                           timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
        body = await resp.read()
        t1 = time.time_ns()
        if resp.status != 200:
            raise ProbeError(f"GET {path}: HTTP {resp.status} {body[:120].decode('utf-8', 'replace')}")
        try:
            import orjson

            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ProbeError(f"GET {path}: not JSON ({exc})") from None
        return data, resp.headers, (t0 + t1) / 2e6, (t1 - t0) / 1e6


async def probe_upbit(session: aiohttp.ClientSession, base: str, cfg: Config) -> VenueInfo:
    """Return Upbit's KRW markets, ticker timestamp and Remaining-Req headroom."""
    timeout_s = cfg.venues.upbit.request_timeout_s
    info = VenueInfo()
    markets, _, _, _ = await _get_json(session, base, "/v1/market/all", timeout_s)
    info.markets = {str(m["market"]): "listed" for m in markets}
    ticker, headers, info.local_mid_ms, info.rtt_ms = await _get_json(
        session, base, "/v1/ticker", timeout_s, params={"markets": f"KRW-{cfg.symbols[0]}"})
    if not ticker or "timestamp" not in ticker[0]:
        raise ProbeError(f"GET /v1/ticker: no timestamp for KRW-{cfg.symbols[0]}")
    info.server_ms = float(ticker[0]["timestamp"])
    m = _REMAINING_SEC.search(headers.get("Remaining-Req", ""))
    info.remaining_sec = int(m.group(1)) if m else None
    return info


async def probe_binance(session: aiohttp.ClientSession, base: str, cfg: Config) -> VenueInfo:
    """Return Binance USDⓈ-M perpetual symbols, server time and used request weight."""
    timeout_s = cfg.venues.binance_usdm.request_timeout_s
    info = VenueInfo()
    exinfo, _, _, _ = await _get_json(session, base, "/fapi/v1/exchangeInfo", timeout_s)
    info.markets = {str(s["symbol"]): str(s.get("status", "")) for s in exinfo["symbols"]}
    for lim in exinfo.get("rateLimits", ()):
        if lim.get("rateLimitType") == "REQUEST_WEIGHT" and lim.get("interval") == "MINUTE":
            info.venue_weight_limit = int(lim["limit"]) // max(1, int(lim.get("intervalNum", 1)))
    served, headers, info.local_mid_ms, info.rtt_ms = await _get_json(session, base, "/fapi/v1/time", timeout_s)
    info.server_ms = float(served["serverTime"])
    used = headers.get("X-MBX-USED-WEIGHT-1M") or headers.get("X-MBX-USED-WEIGHT-1m")
    info.used_weight = int(used) if used is not None else None
    return info


# ---------------------------------------------------------------- checks that need no network

def check_mode(cfg: Config, venue_urls: Mapping[str, str]) -> Check:
    """Paper always; sim only against non-real venue URLs; live only unlocked, durable and public."""
    async def run() -> CheckResult:
        if cfg.mode == "paper":
            return CheckResult("mode", True, "paper: orders go to the in-process mock exchange")
        if cfg.mode == "sim":
            real = [f"{v}={u}" for v, u in venue_urls.items() if is_real_venue_url(u)]
            if real:
                return CheckResult("mode", False, "sim must point at the simulator, not a real exchange: "
                                                  + ", ".join(real))
            return CheckResult("mode", True, "sim: signed orders to the simulator at " + ", ".join(venue_urls.values()))
        problems = []
        if cfg.secrets.live_unlock != LIVE_UNLOCK_VALUE:
            problems.append(f"{LIVE_UNLOCK_ENV} is {'wrong' if cfg.secrets.live_unlock else 'missing'}")
        if not cfg.secrets.database_url:
            problems.append("DATABASE_URL missing (live needs a durable trade store)")
        if not cfg.secrets.redis_url:
            problems.append("REDIS_URL missing (live needs durable engine state)")
        if cfg.market_data.source != "public":
            problems.append(f"market_data.source is {cfg.market_data.source!r}; live trades on 'public' data")
        if problems:
            return CheckResult("mode", False, "live refused: " + "; ".join(problems))
        return CheckResult("mode", True, "live: unlocked, durable stores configured")
    return run


def check_secrets(cfg: Config) -> Check:
    """Report which API keys are present for the mode: names and present/missing, never values."""
    async def run() -> CheckResult:
        s = cfg.secrets
        values = (s.upbit_access_key, s.upbit_secret_key, s.binance_api_key, s.binance_api_secret)
        state = ", ".join(f"{n} {'present' if v else 'missing'}" for n, v in zip(API_KEY_NAMES, values))
        if cfg.mode == "paper":
            return CheckResult("secrets", True, "paper needs no API keys")
        return CheckResult("secrets", all(values), state)
    return run


def check_postgres_schema(cfg: Config) -> Check:
    """The database schema is at the version of the migrations this arbv2 ships."""
    async def run() -> CheckResult:
        if not cfg.secrets.database_url:
            return CheckResult("postgres_schema", True, "not configured (DATABASE_URL unset)", True)
        import asyncpg

        from arbv2.adapters.postgres.migrate import status

        conn = await asyncpg.connect(cfg.secrets.database_url, timeout=5)
        try:
            st = await status(conn)
        finally:
            await conn.close()
        if st.pending or st.version < st.latest:
            pending = ", ".join(f"{v:03d}" for v in st.pending) or "none"
            return CheckResult("postgres_schema", False, f"schema {st.schema} at version {st.version}, arbv2 ships "
                                                         f"{st.latest}: not migrated (pending {pending})")
        if st.version > st.latest:
            return CheckResult("postgres_schema", False, f"schema {st.schema} at version {st.version} is newer "
                                                         f"than this arbv2 ({st.latest})")
        return CheckResult("postgres_schema", True, f"schema {st.schema} at version {st.version} "
                                                    f"({st.variant or 'plain'})")
    return run


def check_risk(cfg: Config) -> Check:
    """Risk limits are set (non-zero) and consistent with the order sizes they must admit."""
    async def run() -> CheckResult:
        r, problems = cfg.risk, []
        if r.daily_loss_limit_krw <= 0:
            problems.append("risk.daily_loss_limit_krw must be > 0")
        for key in ("max_residual_krw", "max_clock_skew_ms"):
            if getattr(r, key) <= 0:
                problems.append(f"risk.{key} must be > 0")
        if r.max_open_round_trips < 1:
            problems.append("risk.max_open_round_trips must be >= 1")
        if r.max_gross_notional_krw < r.max_position_krw_per_symbol:
            problems.append("risk.max_gross_notional_krw is below risk.max_position_krw_per_symbol")
        if cfg.execution.leg_timeout_s <= 0:
            problems.append("execution.leg_timeout_s must be > 0")
        for base in cfg.symbols:
            notional = order_notional_krw(cfg, base)
            if notional > r.max_position_krw_per_symbol:
                problems.append(f"{base}: order notional {notional:,.0f} KRW exceeds "
                                f"risk.max_position_krw_per_symbol {r.max_position_krw_per_symbol:,.0f}")
            if notional > cfg.sizing.max_order_notional_krw:
                problems.append(f"{base}: order notional {notional:,.0f} KRW exceeds sizing.max_order_notional_krw")
            if entry_edge_bps(cfg, base) <= 0:
                problems.append(f"{base}: entry edge threshold must be > 0 bps")
        if problems:
            return CheckResult("risk_limits", False, "; ".join(problems))
        return CheckResult("risk_limits", True, f"daily loss {r.daily_loss_limit_krw:,.0f} KRW, position "
                                                f"{r.max_position_krw_per_symbol:,.0f} KRW/symbol, gross "
                                                f"{r.max_gross_notional_krw:,.0f} KRW, open <= {r.max_open_round_trips}"
                                                + (", KILL SWITCH ON" if r.kill_switch else ""))
    return run


# ---------------------------------------------------------------- venue checks over one probe each

def _venue_symbol(venue: str, base: str) -> str:
    return f"KRW-{base}" if venue == UPBIT else f"{base}USDT"


def check_markets(venue: str, probe: _Probe, cfg: Config) -> Check:
    async def run() -> CheckResult:
        info = await probe.get()
        want = [_venue_symbol(venue, b) for b in cfg.symbols]
        missing = [s for s in want if s not in info.markets]
        halted = [f"{s} ({info.markets[s]})" for s in want
                  if venue == BINANCE and s in info.markets and info.markets[s] != "TRADING"]
        if missing or halted:
            return CheckResult(f"markets_{venue}", False, "; ".join(
                part for part in ("not listed: " + ", ".join(missing) if missing else "",
                                  "not trading: " + ", ".join(halted) if halted else "") if part))
        return CheckResult(f"markets_{venue}", True, f"reachable; {len(info.markets)} markets, all of "
                                                     f"{', '.join(want)} listed")
    return run


def check_venue_clock(venue: str, probe: _Probe, cfg: Config) -> Check:
    async def run() -> CheckResult:
        info = await probe.get()
        if info.server_ms is None:
            return CheckResult(f"clock_{venue}", False, "the venue reported no server time")
        offset = info.server_ms - info.local_mid_ms
        bound = cfg.risk.max_clock_skew_ms
        return CheckResult(f"clock_{venue}", abs(offset) <= bound,
                           f"offset {offset:+.1f} ms (rtt {info.rtt_ms:.1f} ms); bound +/-{bound:g} ms")
    return run


def check_rate_limit(venue: str, probe: _Probe, cfg: Config) -> Check:
    async def run() -> CheckResult:
        info = await probe.get()
        name = f"rate_limit_{venue}"
        if venue == UPBIT:
            if info.remaining_sec is None:
                return CheckResult(name, False, "no Remaining-Req header: headroom unknown")
            return CheckResult(name, info.remaining_sec >= UPBIT_MIN_REMAINING_SEC,
                               f"Remaining-Req sec={info.remaining_sec}; need >= {UPBIT_MIN_REMAINING_SEC}")
        limit = cfg.venues.binance_usdm.weight_limit_per_min
        if info.used_weight is None:
            return CheckResult(name, False, "no X-MBX-USED-WEIGHT-1M header: headroom unknown")
        if info.venue_weight_limit is not None and info.venue_weight_limit < limit:
            return CheckResult(name, False, f"config weight_limit_per_min {limit} exceeds the venue's "
                                            f"{info.venue_weight_limit}")
        share = info.used_weight / limit if limit else 1.0
        return CheckResult(name, share <= BINANCE_MAX_WEIGHT_SHARE,
                           f"used weight {info.used_weight}/{limit} per minute ({share:.0%}); "
                           f"need <= {BINANCE_MAX_WEIGHT_SHARE:.0%}")
    return run


def resolve_venue_urls(cfg: Config, venue_urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return {venue: REST base URL} for the enabled venues, the caller's URLs over the config's."""
    urls = dict(venue_urls or {})
    out = {}
    if cfg.venues.upbit.enabled:
        out[UPBIT] = urls.get(UPBIT, cfg.venues.upbit.rest_url)
    if cfg.venues.binance_usdm.enabled:
        out[BINANCE] = urls.get(BINANCE, cfg.venues.binance_usdm.rest_url)
    return out


async def run_preflight(cfg: Config, *, venue_urls: Mapping[str, str] | None = None,
                        config_source: str = "defaults", timeout_s: float = 15.0) -> list[CheckResult]:
    """Run every preflight check against `cfg` and return the results in table order.

    `venue_urls` ({"upbit": ..., "binance_usdm": ...}) points the venue checks at a simulator or
    testnet instead of the config's REST URLs.
    """
    urls = resolve_venue_urls(cfg, venue_urls)
    async with aiohttp.ClientSession(headers={"Accept": "application/json"}) as session:
        checks: list[tuple[str, Check]] = [
            ("config", check_config(cfg, config_source)),
            ("mode", check_mode(cfg, urls)),
            ("secrets", check_secrets(cfg)),
            ("postgres", check_postgres(cfg)),
            ("postgres_schema", check_postgres_schema(cfg)),
            ("redis", check_redis(cfg)),
            ("clock", check_clock()),
        ]
        fetchers = {UPBIT: probe_upbit, BINANCE: probe_binance}
        for venue, base in urls.items():
            probe = _Probe(lambda f=fetchers[venue], b=base: f(session, b, cfg))
            checks += [(f"markets_{venue}", check_markets(venue, probe, cfg)),
                       (f"clock_{venue}", check_venue_clock(venue, probe, cfg)),
                       (f"rate_limit_{venue}", check_rate_limit(venue, probe, cfg))]
        checks.append(("risk_limits", check_risk(cfg)))
        return await run_checks(checks, timeout_s)


def textfile_rows(results: Sequence[CheckResult]) -> list[tuple[str, bool, str]]:
    """Return (name, passed, detail) rows for the v2_preflight.prom textfile (a skip is a pass)."""
    return [(r.name, r.ok, ("skipped: " if r.skipped else "") + r.detail) for r in results]


async def require_preflight(cfg: Config, *, venue_urls: Mapping[str, str] | None = None) -> list[CheckResult]:
    """Run preflight at engine start; raise SafetyError in live mode when any check fails."""
    results = await run_preflight(cfg, venue_urls=venue_urls)
    failed = [r for r in results if not r.ok]
    for r in failed:
        log.warning("preflight %s FAIL: %s", r.name, r.detail)
    if failed and cfg.mode == "live":
        raise SafetyError("live start refused: preflight failed: "
                          + "; ".join(f"{r.name}: {r.detail}" for r in failed))
    return results
