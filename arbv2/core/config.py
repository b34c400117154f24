"""Config SSOT: the schema of config/v2/config.yml as frozen dataclasses, and its loader.

`load_config(path, env)` merges, in order: the packaged defaults (config/v2/config.yml), the
YAML file given, a .env file (python-dotenv), then ARBV2_* environment overrides
(ARBV2_STRATEGY__ENTRY_EDGE_BPS=12 sets strategy.entry_edge_bps). Unknown keys are errors.
Secrets come only from the environment (or the .env file) and are masked everywhere.

The core never reads the environment itself: the app calls load_config and hands the frozen
result (or one slice of it) to each component.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from arbv2.core.errors import ConfigError
from arbv2.core.typed_data import from_plain, to_plain

Mode = Literal["paper", "sim", "live"]
Source = Literal["sim", "public", "replay"]
LegProtocol = Literal["ioc_concurrent", "upbit_first"]
FxSource = Literal["upbit_krw_usdt", "fixed"]

SECRET_NAMES = ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY", "BINANCE_API_KEY", "BINANCE_API_SECRET",
                "DATABASE_URL", "REDIS_URL", "ARBV2_ADMIN_TOKEN")
LIVE_UNLOCK_ENV = "ARBV2_LIVE_UNLOCK"
LIVE_UNLOCK_VALUE = "I_UNDERSTAND_THIS_TRADES_REAL_MONEY"
_RESERVED_ENV = frozenset({"ARBV2_ADMIN_TOKEN", LIVE_UNLOCK_ENV, "ARBV2_NO_EXTENSIONS",
                           "ARBV2_DEBUG_CYTHON", "ARBV2_CONFIG", "ARBV2_RUN_ID"})


def _mask(value: str | None) -> str:
    return "<unset>" if not value else "****"


@dataclass(frozen=True, slots=True)
class Secrets:
    """API keys and connection strings, from the environment only; repr never shows them."""

    upbit_access_key: str | None = None
    upbit_secret_key: str | None = None
    binance_api_key: str | None = None
    binance_api_secret: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    admin_token: str | None = None
    live_unlock: str | None = None

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={_mask(getattr(self, f.name))}" for f in dataclasses.fields(self))
        return f"Secrets({inner})"

    __str__ = __repr__

    def masked(self) -> dict[str, str]:
        return {f.name: _mask(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def values(self) -> list[str]:
        """Return the secret values that are set, for log redaction."""
        return [v for f in dataclasses.fields(self) if (v := getattr(self, f.name))]


@dataclass(frozen=True, slots=True)
class FeeConfig:
    taker_bps: float = 5.0
    maker_bps: float = 5.0


@dataclass(frozen=True, slots=True)
class UpbitConfig:
    enabled: bool = True
    rest_url: str = "https://api.upbit.com"
    ws_url: str = "wss://api.upbit.com/websocket/v1"
    fees: FeeConfig = FeeConfig(taker_bps=5.0, maker_bps=5.0)
    fee_overrides: dict[str, FeeConfig] = field(default_factory=dict)
    request_timeout_s: float = 5.0
    jwt_algorithm: Literal["HS256", "HS512"] = "HS512"
    order_rate_per_s: float = 8.0
    query_rate_per_s: float = 30.0


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    enabled: bool = True
    rest_url: str = "https://fapi.binance.com"
    ws_url: str = "wss://fstream.binance.com"
    fees: FeeConfig = FeeConfig(taker_bps=5.0, maker_bps=2.0)
    fee_overrides: dict[str, FeeConfig] = field(default_factory=dict)
    request_timeout_s: float = 5.0
    recv_window_ms: int = 5000
    leverage: int = 2
    margin_type: Literal["ISOLATED", "CROSSED"] = "CROSSED"
    weight_limit_per_min: int = 2400
    max_streams_per_connection: int = 200
    funding_refresh_s: float = 60.0


@dataclass(frozen=True, slots=True)
class VenuesConfig:
    upbit: UpbitConfig = UpbitConfig()
    binance_usdm: BinanceConfig = BinanceConfig()


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    embedded: bool = True
    host: str = "127.0.0.1"
    upbit_port: int = 0
    binance_port: int = 0
    seed: int = 7
    premium_mean: float = 0.02
    faults_file: str | None = None
    funding_interval_s: float = 28800.0


@dataclass(frozen=True, slots=True)
class MarketDataConfig:
    source: Source = "sim"
    replay_path: str | None = None
    fx_source: FxSource = "upbit_krw_usdt"
    fx_fixed_rate: float = 1400.0
    max_book_age_s: float = 2.0
    ws_silence_timeout_s: float = 10.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    cache_publish_interval_ms: int = 100
    cache_ttl_ms: int = 100
    depth_levels: int = 30


@dataclass(frozen=True, slots=True)
class SymbolOverride:
    entry_edge_bps: float | None = None
    exit_edge_bps: float | None = None
    order_notional_krw: float | None = None


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    entry_edge_bps: float = 10.0
    exit_edge_bps: float = 5.0
    slippage_bps: float = 0.0
    safety_margin_bps: float = 2.0
    funding_horizon_h: float = 8.0
    anchor_halflife_s: float = 120.0
    warmup_s: float = 5.0
    allow_reverse: bool = False
    overrides: dict[str, SymbolOverride] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SizingConfig:
    order_notional_krw: float = 1_000_000.0
    max_order_notional_krw: float = 10_000_000.0


@dataclass(frozen=True, slots=True)
class RiskConfig:
    daily_loss_limit_krw: float = 500_000.0
    max_position_krw_per_symbol: float = 5_000_000.0
    max_gross_notional_krw: float = 20_000_000.0
    max_open_round_trips: int = 3
    cooldown_after_loss_s: float = 30.0
    cooldown_after_failure_s: float = 60.0
    max_residual_krw: float = 200_000.0
    max_clock_skew_ms: float = 1000.0
    kill_switch: bool = False
    flatten_on_kill: bool = True
    day_reset_tz: str = "Asia/Seoul"


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    leg_protocol: LegProtocol = "ioc_concurrent"
    leg_timeout_s: float = 5.0
    ioc_slippage_bps: float = 30.0
    hedge_retries: int = 2
    retry_backoff_s: float = 0.2
    poll_interval_s: float = 0.05
    paper_latency_ms_upbit: float = 20.0
    paper_latency_ms_binance: float = 10.0
    seed: int = 1


@dataclass(frozen=True, slots=True)
class StorageConfig:
    redis_prefix: str = "v2:"
    db_pool_min: int = 1
    db_pool_max: int = 5
    db_command_timeout_s: float = 5.0
    premium_flush_interval_s: float = 1.0
    write_retries: int = 5


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9108
    allow_remote_admin: bool = False


@dataclass(frozen=True, slots=True)
class KpiConfig:
    winrate_min: float = 0.5
    winrate_max: float = 0.8
    min_mean_edge_bps: float = 0.0
    min_round_trips: int = 1
    cycle_p99_budget_us: float = 1000.0


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    mode: Mode = "paper"
    symbols: tuple[str, ...] = ("BTC", "ETH", "XRP")
    market_data: MarketDataConfig = MarketDataConfig()
    venues: VenuesConfig = VenuesConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    strategy: StrategyConfig = StrategyConfig()
    sizing: SizingConfig = SizingConfig()
    risk: RiskConfig = RiskConfig()
    execution: ExecutionConfig = ExecutionConfig()
    storage: StorageConfig = StorageConfig()
    server: ServerConfig = ServerConfig()
    kpi: KpiConfig = KpiConfig()
    logging: LoggingConfig = LoggingConfig()
    secrets: Secrets = field(default_factory=Secrets, compare=False)

    def public_dict(self) -> dict[str, Any]:
        """Return the config as plain data with secrets masked (for `config show` and evidence)."""
        data = to_plain(self)
        data["secrets"] = self.secrets.masked()
        return data

    def config_hash(self) -> str:
        """Return a short stable hash of the non-secret config."""
        data = to_plain(self)
        data.pop("secrets", None)
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def build(cls: type, data: Any, path: str = "") -> Any:
    """Build config dataclass `cls` from plain data with the config's range rules."""
    return from_plain(cls, data, path, _validate)


def _validate(obj: Any, path: str) -> None:
    """Range checks that types alone cannot express."""
    p = f"{path}." if path else ""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0 and f.name not in ("premium_mean",):
                raise ConfigError(f"{p}{f.name}: invalid value {value!r}; allowed: a number >= 0")
    if isinstance(obj, Config):
        if not obj.symbols:
            raise ConfigError("symbols: invalid value []; allowed: a non-empty list of base assets like BTC")
        for s in obj.symbols:
            if not s.isalnum() or s.upper() != s:
                raise ConfigError(f"symbols: invalid value {s!r}; allowed: upper-case base assets like 'BTC'")
        unknown = sorted(set(obj.strategy.overrides) - set(obj.symbols))
        if unknown:
            raise ConfigError(f"strategy.overrides.{unknown[0]}: unknown symbol; allowed: {', '.join(obj.symbols)}")
        if obj.market_data.source == "replay" and not obj.market_data.replay_path:
            raise ConfigError("market_data.replay_path: invalid value None; allowed: a path when source is 'replay'")
    if isinstance(obj, KpiConfig) and obj.winrate_min > obj.winrate_max:
        raise ConfigError(f"{p}winrate_min: invalid value {obj.winrate_min!r}; allowed: <= winrate_max")
    if isinstance(obj, BinanceConfig) and not obj.funding_refresh_s > 0:
        raise ConfigError(f"{p}funding_refresh_s: invalid value {obj.funding_refresh_s!r}; allowed: a number > 0")
    if isinstance(obj, SimulatorConfig) and not obj.funding_interval_s >= 0.001:
        raise ConfigError(f"{p}funding_interval_s: invalid value {obj.funding_interval_s!r}; allowed: >= 0.001")
    if isinstance(obj, ServerConfig) and not 0 <= obj.port <= 65535:
        raise ConfigError(f"{p}port: invalid value {obj.port!r}; allowed: 0..65535")
    if isinstance(obj, SizingConfig) and obj.order_notional_krw > obj.max_order_notional_krw:
        raise ConfigError(f"{p}order_notional_krw: invalid value {obj.order_notional_krw!r}; "
                          f"allowed: <= max_order_notional_krw ({obj.max_order_notional_krw})")


# ---------------------------------------------------------------- loading

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "config.yml"


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # a parser, not an I/O client: the loader reads a file the app names

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k != "overrides":
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("ARBV2_") or key in _RESERVED_ENV:
            continue
        parts = [p.lower() for p in key[len("ARBV2_"):].split("__") if p]
        if not parts:
            continue
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: conflicts with another override")
        node[parts[-1]] = value
    return out


def _dotenv(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                dotenv_path: str | Path | None = ".env", overlay: Mapping[str, Any] | None = None) -> Config:
    """Return the validated Config from defaults, YAML `path`, .env, then ARBV2_* overrides.

    `env` defaults to os.environ (read here, in the loader the app calls, never in the core's
    decision code). `overlay` is applied last (CLI flags, admin threshold changes).
    """
    if env is None:
        import os

        env = os.environ
    data = _read_yaml(DEFAULT_CONFIG_PATH)
    if path is not None:
        data = _merge(data, _read_yaml(Path(path)))
    merged_env = {**_dotenv(Path(dotenv_path) if dotenv_path else None), **env}
    data = _merge(data, _env_overrides(merged_env))
    if overlay:
        data = _merge(data, overlay)
    cfg = build(Config, data)
    secrets = Secrets(
        upbit_access_key=merged_env.get("UPBIT_ACCESS_KEY") or None,
        upbit_secret_key=merged_env.get("UPBIT_SECRET_KEY") or None,
        binance_api_key=merged_env.get("BINANCE_API_KEY") or None,
        binance_api_secret=merged_env.get("BINANCE_API_SECRET") or None,
        database_url=merged_env.get("DATABASE_URL") or None,
        redis_url=merged_env.get("REDIS_URL") or None,
        admin_token=merged_env.get("ARBV2_ADMIN_TOKEN") or None,
        live_unlock=merged_env.get(LIVE_UNLOCK_ENV) or None,
    )
    return dataclasses.replace(cfg, secrets=secrets)


def entry_edge_bps(cfg: Config, base: str) -> float:
    o = cfg.strategy.overrides.get(base)
    return o.entry_edge_bps if o and o.entry_edge_bps is not None else cfg.strategy.entry_edge_bps


def exit_edge_bps(cfg: Config, base: str) -> float:
    o = cfg.strategy.overrides.get(base)
    return o.exit_edge_bps if o and o.exit_edge_bps is not None else cfg.strategy.exit_edge_bps


def order_notional_krw(cfg: Config, base: str) -> float:
    o = cfg.strategy.overrides.get(base)
    return o.order_notional_krw if o and o.order_notional_krw is not None else cfg.sizing.order_notional_krw
