"""A recorder killed with SIGKILL leaves a readable recording: every complete block survives."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from arbv2.adapters.recording.reader import SegmentInfo, iter_segment, read_meta, segments


def test_sigkilled_recorder_leaves_every_complete_block_readable(tmp_path):
    out = tmp_path / "rec"
    proc = subprocess.Popen([sys.executable, "-m", "arbv2", "record", "--source", "sim", "--symbols", "BTC",
                             "--out", str(out), "--duration", "120"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": "0"})
    try:
        deadline = time.monotonic() + 60
        size = 0
        while time.monotonic() < deadline:          # wait until a few blocks are on disk
            segs = list(out.glob("seg-*.arbrec")) if out.exists() else []
            size = sum(p.stat().st_size for p in segs)
            if size > 40_000:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        assert size > 40_000, "the recorder wrote nothing within 60 s"
        time.sleep(0.37)                            # land somewhere inside the next block
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    paths = segments(out)
    assert read_meta(paths[0])["symbols"] == ["BTC"]
    total = 0
    for path in paths:
        info = SegmentInfo(path, {})
        recs = list(iter_segment(path, info))
        total += len(recs)
        assert all(r.venue in ("upbit", "binance_usdm") and r.payload.startswith(b"{") for r in recs)
    assert total >= 50
    venues = {r.venue for p in paths for r in iter_segment(p)}
    assert venues == {"upbit", "binance_usdm"}
