"""Preflight results as a node-exporter textfile (`v2_preflight.prom`).

node-exporter's textfile collector reads every `*.prom` file in its directory on each
scrape, so a half-written file would be scraped as garbage or as missing checks. The file
is written beside its destination under a name that does not end in `.prom`, flushed to
disk, then renamed over the old one: readers see the old file or the new one, never a mix.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from arbv2.adapters.common.files import atomic_write

PREFLIGHT_FILENAME = "v2_preflight.prom"
CHECK_METRIC = "arbv2_preflight_check"
TIMESTAMP_METRIC = "arbv2_preflight_timestamp_seconds"
PASSED_METRIC = "arbv2_preflight_passed"
TEXTFILE_METRICS = (CHECK_METRIC, TIMESTAMP_METRIC, PASSED_METRIC)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _comment(text: str) -> str:
    return " ".join(text.split())  # a comment must stay on one line


def render_preflight(results: Sequence[tuple[str, bool, str]], ts_s: float) -> str:
    """Return the textfile body: one gauge sample per check, the run's time and overall result.

    Each message is kept as a `#` comment line for a human reading the file; it is not a
    label, so free text cannot create new series.
    """
    names = [name for name, _, _ in results]
    if any(not n for n in names):
        raise ValueError("preflight check names must be non-empty")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate preflight check names: {', '.join(dupes)}")
    passed = all(ok for _, ok, _ in results)
    lines = [f"# HELP {CHECK_METRIC} Result of one preflight check: 1 passed, 0 failed.",
             f"# TYPE {CHECK_METRIC} gauge"]
    for name, ok, message in results:
        if message:
            lines.append(f"# {name}: {_comment(message)}")
        lines.append(f'{CHECK_METRIC}{{check="{_escape(name)}"}} {1 if ok else 0}')
    lines += [f"# HELP {TIMESTAMP_METRIC} Unix time the preflight ran.",
              f"# TYPE {TIMESTAMP_METRIC} gauge",
              f"{TIMESTAMP_METRIC} {float(ts_s)!r}",
              f"# HELP {PASSED_METRIC} 1 when every preflight check passed, else 0.",
              f"# TYPE {PASSED_METRIC} gauge",
              f"{PASSED_METRIC} {1 if passed else 0}"]
    return "\n".join(lines) + "\n"


def write_preflight_textfile(path: str | os.PathLike[str],
                             results: Sequence[tuple[str, bool, str]], ts_s: float) -> Path:
    """Atomically write `results` (name, passed, message) to `path`; return the path.

    `path` may be a directory, in which case the file is `v2_preflight.prom` inside it.
    """
    dest = Path(path)
    if dest.is_dir():
        dest = dest / PREFLIGHT_FILENAME
    return atomic_write(dest, render_preflight(results, ts_s).encode("utf-8"))
