"""Fixtures for the kernel benchmarks: one seeded stream per session (see streams.py)."""
from __future__ import annotations

import pytest
from streams import Stream, make_stream


@pytest.fixture(scope="session")
def stream() -> Stream:
    return make_stream()
