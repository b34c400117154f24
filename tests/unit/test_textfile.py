"""The preflight textfile: node-exporter's format, parsed back, and written atomically."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from arbv2.adapters.prometheus import textfile
from arbv2.adapters.prometheus.textfile import PREFLIGHT_FILENAME, write_preflight_textfile

RESULTS = [("config", True, "loaded config/v2/config.yml"),
           ("database", False, 'connect failed:\n"refused"'),
           ('odd"name\\x', True, "")]


def _parse(path: Path) -> dict[str, list]:
    return {f.name: f for f in text_string_to_metric_families(path.read_text())}


def test_one_gauge_per_check_plus_timestamp_and_overall(tmp_path: Path) -> None:
    out = write_preflight_textfile(tmp_path / PREFLIGHT_FILENAME, RESULTS, 1700000000.25)
    fams = _parse(out)
    checks = {s.labels["check"]: s.value for s in fams["arbv2_preflight_check"].samples}
    assert checks == {"config": 1, "database": 0, 'odd"name\\x': 1}
    assert fams["arbv2_preflight_check"].type == "gauge"
    assert fams["arbv2_preflight_timestamp_seconds"].samples[0].value == 1700000000.25
    assert fams["arbv2_preflight_passed"].samples[0].value == 0
    text = out.read_text()
    assert "# HELP arbv2_preflight_check " in text and "# TYPE arbv2_preflight_passed gauge" in text
    assert "# database: connect failed: \"refused\"" in text  # message kept on one comment line
    assert text.endswith("\n")


def test_all_passed_and_directory_target(tmp_path: Path) -> None:
    out = write_preflight_textfile(tmp_path, [("config", True, "ok")], 1.0)
    assert out == tmp_path / PREFLIGHT_FILENAME
    assert _parse(out)["arbv2_preflight_passed"].samples[0].value == 1
    assert oct(out.stat().st_mode & 0o444) == oct(0o444)  # readable by node-exporter's user


def test_replaces_previous_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    dest = tmp_path / PREFLIGHT_FILENAME
    write_preflight_textfile(dest, [("a", False, "")], 1.0)
    write_preflight_textfile(dest, [("a", True, "")], 2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREFLIGHT_FILENAME]
    assert _parse(dest)["arbv2_preflight_timestamp_seconds"].samples[0].value == 2.0


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / PREFLIGHT_FILENAME
    write_preflight_textfile(dest, [("a", True, "")], 1.0)
    before = dest.read_text()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(textfile.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_preflight_textfile(dest, [("a", False, "")], 2.0)
    assert dest.read_text() == before
    assert sorted(os.listdir(tmp_path)) == [PREFLIGHT_FILENAME]


@pytest.mark.parametrize("results, message", [
    ([("a", True, ""), ("a", False, "")], "duplicate preflight check names: a"),
    ([("", True, "")], "non-empty"),
])
def test_bad_results_are_refused(tmp_path: Path, results, message) -> None:
    with pytest.raises(ValueError, match=message):
        write_preflight_textfile(tmp_path, results, 1.0)
    assert not list(tmp_path.iterdir())
