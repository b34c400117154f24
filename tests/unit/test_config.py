"""Config SSOT: defaults, file/.env/env precedence, validation errors naming key, value, allowed."""
from __future__ import annotations

from pathlib import Path

import pytest

from arbv2.core.config import Config, ConfigError, Secrets, entry_edge_bps, load_config


def write(tmp_path: Path, text: str, name: str = "c.yml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_come_from_the_packaged_file():
    cfg = load_config(env={}, dotenv_path=None)
    assert cfg.mode == "paper"
    assert cfg.symbols == ("BTC", "ETH", "XRP")
    assert cfg.venues.upbit.fees.taker_bps == 5.0
    assert cfg.venues.binance_usdm.fees.maker_bps == 2.0
    assert cfg.server.host == "127.0.0.1"
    assert cfg.market_data.source == "sim"


def test_packaged_default_matches_schema_defaults():
    # the commented YAML and the dataclass defaults must say the same thing
    cfg = load_config(env={}, dotenv_path=None)
    assert cfg == Config()


def test_repo_config_file_is_the_packaged_default():
    repo_file = Path(__file__).resolve().parents[2] / "config" / "v2" / "config.yml"
    assert load_config(repo_file, env={}, dotenv_path=None) == Config()


def test_yaml_file_overrides_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "mode: sim\nstrategy:\n  entry_edge_bps: 15\n"), env={}, dotenv_path=None)
    assert cfg.mode == "sim"
    assert cfg.strategy.entry_edge_bps == 15.0
    assert cfg.strategy.exit_edge_bps == 5.0  # untouched siblings keep their defaults


def test_env_overrides_beat_yaml_and_dotenv(tmp_path):
    path = write(tmp_path, "strategy: {entry_edge_bps: 15}\n")
    dotenv = write(tmp_path, "ARBV2_STRATEGY__ENTRY_EDGE_BPS=20\nARBV2_MODE=sim\n", ".env")
    cfg = load_config(path, env={}, dotenv_path=dotenv)
    assert cfg.strategy.entry_edge_bps == 20.0 and cfg.mode == "sim"
    cfg = load_config(path, env={"ARBV2_STRATEGY__ENTRY_EDGE_BPS": "25"}, dotenv_path=dotenv)
    assert cfg.strategy.entry_edge_bps == 25.0


def test_env_list_and_bool_coercion():
    cfg = load_config(env={"ARBV2_SYMBOLS": "BTC,ETH", "ARBV2_LOGGING__JSON": "true"}, dotenv_path=None)
    assert cfg.symbols == ("BTC", "ETH")
    assert cfg.logging.json is True


def test_per_symbol_override(tmp_path):
    cfg = load_config(write(tmp_path, "strategy:\n  overrides:\n    BTC: {entry_edge_bps: 30}\n"),
                      env={}, dotenv_path=None)
    assert entry_edge_bps(cfg, "BTC") == 30.0
    assert entry_edge_bps(cfg, "ETH") == 10.0


@pytest.mark.parametrize("text, key, fragment", [
    ("mode: yolo\n", "mode", "'paper', 'sim', 'live'"),
    ("strategy: {entry_edge_bps: abc}\n", "strategy.entry_edge_bps", "float"),
    ("strategy: {entyr_edge_bps: 3}\n", "strategy.entyr_edge_bps", "unknown key"),
    ("bogus: 1\n", "bogus", "unknown key"),
    ("risk: {max_open_round_trips: 2.5}\n", "risk.max_open_round_trips", "int"),
    ("risk: {daily_loss_limit_krw: -5}\n", "risk.daily_loss_limit_krw", ">= 0"),
    ("server: {port: 70000}\n", "server.port", "0..65535"),
    ("symbols: []\n", "symbols", "non-empty"),
    ("symbols: [btc]\n", "symbols", "upper-case"),
    ("strategy: {overrides: {DOGE: {entry_edge_bps: 1}}}\n", "strategy.overrides.DOGE", "unknown symbol"),
    ("kpi: {winrate_min: 0.9, winrate_max: 0.8}\n", "kpi.winrate_min", "winrate_max"),
    ("market_data: {source: replay}\n", "market_data.replay_path", "path"),
    ("venues: {upbit: {fees: {taker_bps: .nan}}}\n", "venues.upbit.fees.taker_bps", "float"),
])
def test_validation_errors_name_path_value_and_allowed(tmp_path, text, key, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={}, dotenv_path=None)
    message = str(err.value)
    assert message.startswith(key + ":"), message
    assert fragment in message, message


def test_bad_env_override_is_named():
    with pytest.raises(ConfigError, match=r"^strategy\.bogus: unknown key"):
        load_config(env={"ARBV2_STRATEGY__BOGUS": "1"}, dotenv_path=None)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yml", env={}, dotenv_path=None)
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "mode: [unclosed\n"), env={}, dotenv_path=None)
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), env={}, dotenv_path=None)


def test_secrets_only_from_environment_and_masked(tmp_path):
    env = {"UPBIT_SECRET_KEY": "s3cr3t-upbit", "BINANCE_API_SECRET": "s3cr3t-binance",
           "DATABASE_URL": "postgresql://u:pw@h/db"}
    cfg = load_config(env=env, dotenv_path=None)
    assert cfg.secrets.upbit_secret_key == "s3cr3t-upbit"
    for text in (repr(cfg), str(cfg.secrets), repr(cfg.secrets), str(cfg.public_dict())):
        assert "s3cr3t" not in text and "pw@" not in text
    assert cfg.public_dict()["secrets"]["upbit_secret_key"] == "****"
    assert cfg.public_dict()["secrets"]["upbit_access_key"] == "<unset>"
    # YAML cannot carry secrets: the key is unknown
    with pytest.raises(ConfigError, match="secrets: unknown key"):
        load_config(write(tmp_path, "secrets: {upbit_secret_key: x}\n"), env={}, dotenv_path=None)


def test_secrets_from_dotenv(tmp_path):
    dotenv = write(tmp_path, "BINANCE_API_KEY=from-dotenv\n", ".env")
    assert load_config(env={}, dotenv_path=dotenv).secrets.binance_api_key == "from-dotenv"
    assert load_config(env={"BINANCE_API_KEY": "env"}, dotenv_path=dotenv).secrets.binance_api_key == "env"


def test_config_hash_ignores_secrets_and_tracks_values():
    a = load_config(env={}, dotenv_path=None)
    b = load_config(env={"UPBIT_SECRET_KEY": "x"}, dotenv_path=None)
    c = load_config(env={"ARBV2_STRATEGY__ENTRY_EDGE_BPS": "11"}, dotenv_path=None)
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_secrets_repr_masks_everything():
    s = Secrets(upbit_access_key="AAAA", admin_token="zz-9f")
    assert "AAAA" not in repr(s) and "zz-9f" not in repr(s)
    assert s.values() == ["AAAA", "zz-9f"]


def test_env_example_lists_every_secret():
    example = (Path(__file__).resolve().parents[2] / ".env.v2.example").read_text()
    for name in ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY", "BINANCE_API_KEY", "BINANCE_API_SECRET",
                 "DATABASE_URL", "REDIS_URL", "ARBV2_ADMIN_TOKEN", "ARBV2_LIVE_UNLOCK"):
        assert f"\n{name}=" in example


def test_gitignore_keeps_real_env_files_out():
    ignore = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert ".env" in ignore and "!.env.v2.example" in ignore
