"""`arbv2 gate {doctor,fast,regression}`: the seed's gates, run from a source checkout.

doctor: the installation works (`arbv2 doctor`). fast: lint (ruff, pyflakes rules), the kernels' stubs
(mypy.stubtest) and unit tests. regression: integration
and end-to-end tests (real PostgreSQL, Redis, simulator, a short smoke run) and the
benchmark gate. pytest's "no tests collected" (exit 5) is a failure, never a pass.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

LINT = [
    [sys.executable, "-m", "ruff", "check", "arbv2", "tests", "benchmarks"],
    # the .pyi stubs of the compiled kernels must match what the extensions really export
    [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", "pyproject.toml", "--ignore-disjoint-bases",
     "--allowlist", "arbv2/_fast/stubtest_allowlist.txt",
     "arbv2._fast.book", "arbv2._fast.spread", "arbv2._fast.consolidated", "arbv2._fast.decode"],
]
GATES = {
    "fast": [["tests/unit"]],
    "regression": [["tests/integration", "tests/e2e"], ["benchmarks", "--benchmark-only",
                                                        "--benchmark-columns=min,median,max,rounds",
                                                        "--benchmark-sort=name"]],
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help="run one gate: doctor, fast or regression")
    p.add_argument("name", choices=["doctor", "fast", "regression"])
    p.add_argument("--config", default=None, help="YAML file over the defaults (doctor)")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name == "doctor":
        from arbv2.app.commands import doctor

        return doctor.run(args)
    root = Path.cwd()
    if not (root / "tests").is_dir():
        print("arbv2 gate: run from the source checkout (no tests/ here)", file=sys.stderr)
        return 2
    if args.name == "fast":
        for cmd in LINT:
            print("$ " + " ".join(cmd), flush=True)
            if subprocess.call(cmd, cwd=root) != 0:
                print(f"arbv2 gate fast: FAILED ({cmd[2]})", file=sys.stderr)
                return 1
    for paths in GATES[args.name]:
        cmd = [sys.executable, "-m", "pytest", "-q", *paths, *args.pytest_args]
        print("$ " + " ".join(cmd), flush=True)
        code = subprocess.call(cmd, cwd=root)
        if code == 5:
            print(f"arbv2 gate {args.name}: no tests collected in {paths}: failing", file=sys.stderr)
            return 1
        if code != 0:
            print(f"arbv2 gate {args.name}: FAILED (pytest exit {code})", file=sys.stderr)
            return 1
    print(f"arbv2 gate {args.name}: PASS")
    return 0
