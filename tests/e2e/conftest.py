"""Helpers for the end-to-end tier: subprocesses of the real `arbv2` script with guaranteed cleanup.

- `procs`: starts commands in their own process group, output to files under tmp_path, and
  at teardown stops every one it started (SIGTERM, then SIGKILL to that group only).
- `free_port()`: an ephemeral 127.0.0.1 port (prefer asking the program for port 0 and reading
  what it bound; this is for when a port must be known before the start).
- PostgreSQL / Redis fixtures are the integration tier's (`pg_dsn`, `pg_schema`, `pg_schema_dsn`,
  `redis_url`, `redis_prefix`), loaded from tests/integration/conftest.py so both tiers use the
  same servers, the same isolation and the same override env vars.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest
from required import tool

ARBV2 = tool("arbv2")

_spec = importlib.util.spec_from_file_location(
    "arbv2_tests_integration_fixtures", Path(__file__).resolve().parent.parent / "integration" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
pg_dsn = _fixtures.pg_dsn
pg_schema = _fixtures.pg_schema
pg_schema_dsn = _fixtures.pg_schema_dsn
redis_url = _fixtures.redis_url
redis_prefix = _fixtures.redis_prefix
dsn_with_schema = _fixtures.dsn_with_schema


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """Return os.environ without ARBV2_* and secret variables, plus `extra`."""
    drop = ("UPBIT_", "BINANCE_", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBV2_") and not k.startswith(drop)}
    env.update(extra)
    return env


class Proc:
    """One started process: its Popen, and the files its stdout/stderr go to."""

    def __init__(self, name: str, popen: subprocess.Popen, out: Path, err: Path) -> None:
        self.name, self.popen, self.out, self.err = name, popen, out, err

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def tail(self, n: int = 40) -> str:
        return (f"--- {self.name} stdout (tail) ---\n" + "\n".join(self.stdout().splitlines()[-n:]) +
                f"\n--- {self.name} stderr (tail) ---\n" + "\n".join(self.stderr().splitlines()[-n:]))

    def signal(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def wait_for_output(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """Wait until predicate(stdout) holds; fail with the output when the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout()
            if predicate(text):
                return text
            if not self.alive():
                pytest.fail(f"{self.name} exited ({self.popen.returncode}) before it was ready\n{self.tail()}")
            time.sleep(0.05)
        pytest.fail(f"{self.name} not ready after {timeout:.0f}s\n{self.tail()}")


class Procs:
    """Start processes in their own process groups; stop all of them at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Proc] = []
        self.arbv2 = ARBV2

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        return clean_env(**extra)

    def start(self, name: str, args: list[str], env: dict[str, str], cwd: Path | None = None) -> Proc:
        n = sum(1 for p in self.started if p.name == name)
        out, err = self.root / f"{name}-{n}.out", self.root / f"{name}-{n}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            popen = subprocess.Popen(args, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env,
                                     cwd=str(cwd or self.root), start_new_session=True)
        proc = Proc(name, popen, out, err)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if not proc.alive():
                continue
            proc.signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.signal(signal.SIGKILL)
                proc.wait(10)


@pytest.fixture
def procs(tmp_path: Path):
    """A Procs whose processes are all stopped after the test, whatever happened."""
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()
