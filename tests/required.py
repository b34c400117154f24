"""Tools the test tiers need. The README's test command installs every one of them, so a
missing tool is a broken setup: it fails loudly instead of skipping the tests that need it."""
from __future__ import annotations

import shutil

import pytest

INSTALL = {
    "arbv2": "pip install -e .[dev]",
    "prometheus": "apt-get install prometheus",
    "promtool": "apt-get install prometheus",
    "docker-compose": "apt-get install docker-compose",
}


def tool(name: str) -> str:
    """Return the path of `name` on PATH, or fail naming how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: {INSTALL.get(name, 'install it')} "
                    "(./scripts/test.sh does this)", pytrace=False)
    return path
