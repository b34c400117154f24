"""Compiled kernels: L2 book, consolidated book, break-even spread, frame decoders.

`from arbv2._fast import book, consolidated, spread` gives the compiled (Cython) modules. A
missing build is an ImportError, never a silent fallback to slow code: the latency budgets only
hold for the compiled kernels. ARBV2_NO_EXTENSIONS=1 hands out `arbv2._fast.reference` (same
API, plain Python) for debugging; `COMPILED` says which one is in use. The frame decoders
(`decode`) have their readable twin beside the feeds (arbv2/adapters/feeds/pydecode.py).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

_KERNELS = ("book", "consolidated", "spread")


def _load_compiled(name: str) -> ModuleType:
    try:
        module = importlib.import_module(f"arbv2._fast.{name}")
    except ImportError as exc:
        raise ImportError(
            f"arbv2._fast.{name} is not compiled: run `pip install -e .` or "
            "`python setup.py build_ext --inplace`"
        ) from exc
    if not (module.__file__ or "").endswith((".so", ".pyd")):
        raise ImportError(f"arbv2._fast.{name} resolved to {module.__file__}, not a compiled extension")
    return module


COMPILED: bool = os.environ.get("ARBV2_NO_EXTENSIONS") != "1"

if COMPILED:
    book = _load_compiled("book")
    consolidated = _load_compiled("consolidated")
    spread = _load_compiled("spread")
    decode = _load_compiled("decode")
else:
    from arbv2._fast import reference as _reference

    book = consolidated = spread = _reference
    # `decode` stays the compiled submodule (imported on demand); its twin is feeds/pydecode.py

__all__ = ["COMPILED", "book", "consolidated", "spread"]
