"""The hexagonal rule (the seed's "import ban + lint"), checked by walking the AST.

arbv2/core imports no I/O library and nothing from arbv2.adapters or arbv2.app; arbv2/ports
imports only core; adapters never import the app; nothing but the CLI entry imports the app.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "arbv2"
IO_LIBS = {"aiohttp", "websockets", "redis", "asyncpg", "psycopg", "psycopg2", "prometheus_client",
           "requests", "httpx", "socket"}


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def files(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


def violations(sub: str, banned) -> list[str]:
    bad = []
    for path in files(sub):
        for line, name in imports_of(path):
            if banned(name):
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {name}")
    return bad


def test_core_imports_no_io_library_nor_outer_layers():
    def banned(name: str) -> bool:
        top = name.split(".")[0]
        return top in IO_LIBS or name.startswith(("arbv2.adapters", "arbv2.app"))
    assert files("core"), "arbv2/core has no modules?"
    assert violations("core", banned) == []


def test_ports_import_only_core_types():
    def banned(name: str) -> bool:
        return name.split(".")[0] in IO_LIBS or name.startswith(("arbv2.adapters", "arbv2.app", "arbv2._fast"))
    assert violations("ports", banned) == []


def test_adapters_and_kernels_never_import_the_app():
    def banned(name: str) -> bool:
        return name.startswith("arbv2.app")
    assert violations("adapters", banned) == []
    assert violations("_fast", banned) == []


@pytest.mark.parametrize("source, expected", [
    ("import aiohttp\n", True),
    ("from redis.asyncio import Redis\n", True),
    ("from arbv2.adapters.upbit import exchange\n", True),
    ("import decimal\n", False),
])
def test_the_checker_itself_catches_violations(tmp_path, source, expected):
    core = tmp_path / "core"
    core.mkdir()
    (core / "m.py").write_text(source)
    names = [n for _, n in imports_of(core / "m.py")]
    flagged = any(n.split(".")[0] in IO_LIBS or n.startswith(("arbv2.adapters", "arbv2.app")) for n in names)
    assert flagged is expected
