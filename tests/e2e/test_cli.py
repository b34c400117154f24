"""The real `arbv2` console script in a subprocess: exit codes, one-line errors, masked secrets."""
from __future__ import annotations

import os
import subprocess

from required import tool

ARBV2 = tool("arbv2")


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ARBV2_")}
    full_env.update(env or {})
    return subprocess.run([ARBV2, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("arbv2 ")
    out = run("--help")
    assert out.returncode == 0
    for command in ("config", "doctor", "gate"):
        assert command in out.stdout


def test_usage_error_exits_2_with_one_line():
    out = run("no-such-command")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_config_show_masks_secrets():
    out = run("config", "show", env={"UPBIT_SECRET_KEY": "topsecret-value-123",
                                     "DATABASE_URL": "postgresql://u:hunter2@localhost/x"})
    assert out.returncode == 0, out.stderr
    assert "topsecret-value-123" not in out.stdout + out.stderr
    assert "hunter2" not in out.stdout + out.stderr
    assert '"upbit_secret_key": "****"' in out.stdout


def test_config_check_good_and_bad(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("mode: sim\n")
    out = run("config", "check", str(good))
    assert out.returncode == 0 and "ok" in out.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("strategy:\n  entry_edge_bps: lots\n")
    out = run("config", "check", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "strategy.entry_edge_bps" in lines[0] and "'lots'" in lines[0]
    out = run("--debug", "config", "check", str(bad))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_bad_env_override_is_a_config_error():
    out = run("config", "show", env={"ARBV2_MODE": "yolo"})
    assert out.returncode == 2 and "mode: invalid value 'yolo'" in out.stderr


def test_doctor_passes_on_this_machine():
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    out = run("doctor", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("python", "kernels", "config", "postgres", "redis", "clock"):
        assert name in out.stdout


def test_doctor_fails_when_a_configured_service_is_down():
    out = run("doctor", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert out.returncode == 1
    assert "redis" in out.stdout and "FAIL" in out.stdout
