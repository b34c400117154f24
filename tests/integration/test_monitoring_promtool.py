"""promtool accepts the Prometheus config and rules, and the rules' unit tests pass;
docker-compose accepts the stack file. Skipped only when the tool itself is not installed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from required import tool

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "monitoring/prometheus"


def _run(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def promtool() -> str:
    return tool("promtool")


def test_check_config(promtool: str) -> None:
    res = _run(promtool, "check", "config", str(PROM / "prometheus.v2.yml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 rule files found" in res.stdout + res.stderr


def test_check_rules(promtool: str) -> None:
    files = sorted(str(p) for p in (PROM / "rules").glob("*.yml"))
    assert files
    res = _run(promtool, "check", "rules", *files)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout + res.stderr


def test_rule_unit_tests(promtool: str) -> None:
    files = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert files
    res = _run(promtool, "test", "rules", *files)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "FAILED" not in res.stdout + res.stderr


def test_rule_unit_tests_cover_every_alert() -> None:
    alerts = {r["alert"] for f in (PROM / "rules").glob("*.yml")
              for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tested = {case["alertname"] for f in (PROM / "tests").glob("*.yml")
              for t in yaml.safe_load(f.read_text())["tests"] for case in t.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    assert alerts == tested


def test_broken_rule_is_rejected(promtool: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups: [{name: g, rules: [{alert: X, expr: 'rate(arbv2_frames_total[5m]'}]}]\n")
    assert _run(promtool, "check", "rules", str(bad)).returncode != 0


def test_compose_config_is_accepted() -> None:
    compose = tool("docker-compose")
    base_env = {k: v for k, v in os.environ.items() if k != "ARBV2_ADMIN_TOKEN"}
    refused = _run(compose, "-f", "infra/docker-compose.yml", "config", env=base_env)
    assert refused.returncode != 0 and "ARBV2_ADMIN_TOKEN" in refused.stderr  # no token, no stack
    res = _run(compose, "-f", "infra/docker-compose.yml", "config",
               env={**base_env, "ARBV2_ADMIN_TOKEN": "test-token"})
    assert res.returncode == 0, res.stdout + res.stderr
    cfg = yaml.safe_load(res.stdout)
    services = cfg["services"]
    assert set(services) == {"timescaledb", "redis", "engine", "prometheus", "grafana", "node-exporter"}
    assert all("healthcheck" in s for s in services.values())
    redis_ports = services["redis"]["ports"]
    # docker-compose 1.x prints "127.0.0.1:6380:6379/tcp"; compose v2 prints a mapping
    assert any(str(p.get("published")) == "6380" and int(p["target"]) == 6379 if isinstance(p, dict)
               else p.split("/")[0].endswith("6380:6379") for p in redis_ports)
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb")
    assert services["engine"]["build"]["dockerfile"] == "infra/Dockerfile"
    engine_env = services["engine"]["environment"]
    assert {"DATABASE_URL", "REDIS_URL"} <= set(engine_env)
    assert engine_env["ARBV2_ADMIN_TOKEN"] == "test-token"
    assert any("--collector.textfile.directory" in a for a in services["node-exporter"]["command"])
