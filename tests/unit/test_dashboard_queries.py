"""Every query in the Grafana dashboard and the alert rules names something arbv2 produces.

PromQL metrics must be in the catalog (or the preflight textfile, or Prometheus' own `up`, or
a recording rule); SQL must read only the v2_* tables and views the migrations create, and
only their columns. A renamed metric or column fails here instead of showing "No data".
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from arbv2.adapters.prometheus.catalog import CATALOG
from arbv2.adapters.prometheus.textfile import TEXTFILE_METRICS

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "monitoring/grafana/dashboards/v2_overview.json"
RULES = sorted((ROOT / "monitoring/prometheus/rules").glob("*.yml"))
MIGRATIONS = ROOT / "arbv2/adapters/postgres/migrations"
DATASOURCES = ROOT / "monitoring/grafana/provisioning/datasources/arbv2.yml"
PROVIDERS = ROOT / "monitoring/grafana/provisioning/dashboards/arbv2.yml"
COMPOSE = ROOT / "infra/docker-compose.yml"
ALLOWED_TABLES = {"v2_orders", "v2_fills", "v2_trades", "v2_premium",
                  "v2_pnl_daily", "v2_pnl_weekly", "v2_pnl_monthly"}

_PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                    "group_left", "group_right", "inf", "nan"}
_SQL_KEYWORDS = {"select", "as", "from", "where", "and", "or", "in", "order", "by", "group", "desc",
                 "asc", "limit", "not", "null", "is", "time", "metric"}


def _recording_rules() -> set[str]:
    return {r["record"] for f in RULES for g in yaml.safe_load(f.read_text())["groups"]
            for r in g["rules"] if "record" in r}


def produced_metrics() -> set[str]:
    names = {n for spec in CATALOG.values() for n in spec.series_names()}
    return names | set(TEXTFILE_METRICS) | {"up"} | _recording_rules()


def promql_metric_names(expr: str) -> set[str]:
    """Return the metric names an expression selects (not functions, labels or keywords)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][-+]?\d+)?", " ", s)
    out = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group().lower() in _PROMQL_KEYWORDS:
            continue
        out.add(m.group())
    return out


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _targets(dash: dict) -> list[tuple[str, dict]]:
    return [(p["title"], t) for p in dash["panels"] for t in p.get("targets", [])]


def _migration_columns() -> dict[str, set[str]]:
    """Return {table or view: columns} parsed from the plain-PostgreSQL migrations."""
    cols: dict[str, set[str]] = {}
    for f in sorted(MIGRATIONS.glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", f.read_text())
        for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", sql, re.S):
            cols[name] = {ln.split()[0] for ln in body.strip().splitlines()
                          if ln.split() and ln.split()[0].upper() not in ("PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK")}
        for name, select in re.findall(r"VIEW (?:IF NOT EXISTS )?(\w+)\b.*?SELECT (.*?)\nFROM", sql, re.S):
            items, depth, cur = [], 0, ""
            for ch in select:
                depth += ch == "("
                depth -= ch == ")"
                if ch == "," and depth == 0:
                    items.append(cur)
                    cur = ""
                else:
                    cur += ch
            items.append(cur)
            cols[name] = {re.findall(r"\w+", item)[-1] for item in items}
    return cols


# ---------------------------------------------------------------- the extractor itself

@pytest.mark.parametrize("expr, names", [
    ('histogram_quantile(0.99, sum by (le, stage) (rate(arbv2_cycle_stage_seconds_bucket{job="arbv2"}[5m])))',
     {"arbv2_cycle_stage_seconds_bucket"}),
    ("a_total > on() group_left() (max(b) or vector(30e-6))", {"a_total", "b"}),
    ('up{job="arbv2"} == 0 or absent(up{job="arbv2"})', {"up"}),
    ("0.8 * max(arbv2_daily_loss_limit_krw)", {"arbv2_daily_loss_limit_krw"}),
])
def test_promql_extractor(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


# ---------------------------------------------------------------- dashboard

def test_dashboard_is_valid_grafana_json() -> None:
    dash = _dashboard()
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        if p["type"] != "row":
            assert p["targets"], p["title"]
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs)), p["title"]


def test_dashboard_covers_the_issue_panels() -> None:
    exprs = " ".join(t.get("expr", "") + t.get("rawSql", "") for _, t in _targets(_dashboard()))
    for needed in ("arbv2_cycle_latency_seconds_bucket", "arbv2_cycle_stage_seconds_bucket",
                   "arbv2_premium_ratio", "arbv2_pnl_realized_krw", "v2_pnl_daily",
                   "arbv2_position_base", "arbv2_round_trips_total", "arbv2_rejects_total",
                   "arbv2_risk_blocks_total", "arbv2_frames_total", "arbv2_book_age_seconds"):
        assert needed in exprs, needed
    assert "histogram_quantile(0.99" in exprs and "histogram_quantile(0.5" in exprs


def test_every_dashboard_promql_metric_is_produced() -> None:
    produced = produced_metrics()
    dash = _dashboard()
    seen = set()
    for title, t in _targets(dash):
        if "expr" in t:
            names = promql_metric_names(t["expr"])
            assert names, f"{title}: no metric in {t['expr']!r}"
            assert names <= produced, f"{title}: unknown metric(s) {names - produced}"
            seen |= names
    for var in dash["templating"]["list"]:
        metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", var["definition"]).groups()
        assert metric in produced
        assert any(label in s.labels for s in CATALOG.values() if metric in s.series_names())
    assert len(seen) >= 20


def test_every_dashboard_sql_reads_known_tables_and_columns() -> None:
    columns = _migration_columns()
    assert ALLOWED_TABLES <= set(columns), f"migrations lack {ALLOWED_TABLES - set(columns)}"
    sql_targets = [(title, t) for title, t in _targets(_dashboard()) if "rawSql" in t]
    assert len(sql_targets) >= 4
    for title, t in sql_targets:
        assert t["datasource"]["uid"] == "arbv2-postgres", title
        sql = re.sub(r"\$__\w+|\$\w+|'[^']*'", " ", t["rawSql"])
        tables = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, re.I))
        assert tables and tables <= ALLOWED_TABLES, f"{title}: {tables}"
        known = set().union(*(columns[tb] for tb in tables))
        idents = {w for w in re.findall(r"[A-Za-z_]\w*", sql) if w.lower() not in _SQL_KEYWORDS}
        unknown = idents - known - tables
        assert not unknown, f"{title}: unknown column(s) {unknown}"


def test_pnl_views_have_the_agreed_columns() -> None:
    columns = _migration_columns()
    for view in ("v2_pnl_daily", "v2_pnl_weekly", "v2_pnl_monthly"):
        assert {"bucket", "symbol_base", "round_trips", "wins", "pnl_krw", "fees_krw"} <= columns[view]
    assert {"ts", "symbol_base", "mid_premium", "entry_premium", "exit_premium"} <= columns["v2_premium"]


def test_dashboard_datasources_are_provisioned_and_mounted() -> None:
    provisioned = {d["uid"]: d["type"] for d in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    dash = _dashboard()
    used = {(t["datasource"]["uid"], t["datasource"]["type"]) for _, t in _targets(dash)}
    used |= {(p["datasource"]["uid"], p["datasource"]["type"]) for p in dash["panels"] if "datasource" in p}
    for uid, kind in used:
        assert provisioned.get(uid) == kind, uid
    path = yaml.safe_load(PROVIDERS.read_text())["providers"][0]["options"]["path"]
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    assert f"../monitoring/grafana/dashboards:{path}:ro" in grafana["volumes"]


# ---------------------------------------------------------------- alert rules

def _rules() -> list[dict]:
    return [r for f in RULES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]


def test_every_rule_metric_is_produced() -> None:
    produced = produced_metrics()
    for rule in _rules():
        names = promql_metric_names(rule["expr"])
        assert names and names <= produced, f"{rule.get('alert') or rule['record']}: {names - produced}"


def test_alerts_cover_the_issue_and_carry_a_priority() -> None:
    alerts = {r["alert"]: r for r in _rules() if "alert" in r}
    required = {"ArbV2EngineDown", "ArbV2NoFrames", "ArbV2StaleBook", "ArbV2ResyncStorm",
                "ArbV2CycleLatencyP99OverBudget", "ArbV2ExecutionFailures",
                "ArbV2DailyLossNearLimit", "ArbV2KillSwitchOn"}
    assert required <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("P0", "P1", "P2", "P3"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    assert alerts["ArbV2EngineDown"]["labels"]["severity"] == "P0"
    assert "0.8 * arbv2_daily_loss_limit_krw" in alerts["ArbV2DailyLossNearLimit"]["expr"]
