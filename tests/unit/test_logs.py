"""Structured logs carry the run id and never a secret."""
from __future__ import annotations

import json
import logging

from arbv2.app import logs


def test_json_lines_carry_run_id_and_redact(capsys):
    logs.setup_logging(level="INFO", json_lines=True)
    logs.register_secrets(["my-api-secret-value"])
    logging.getLogger("t").info("sending signature=abcdef0123 with my-api-secret-value and Bearer tok.en-1")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    doc = json.loads(line)
    assert doc["run_id"] == logs.RUN_ID and doc["level"] == "INFO" and doc["logger"] == "t"
    assert "abcdef0123" not in line and "my-api-secret-value" not in line and "tok.en-1" not in line
    assert "signature=***" in doc["msg"]


def test_plain_lines_redact_dsn_passwords(capsys):
    logs.setup_logging(level="INFO", json_lines=False)
    logging.getLogger("t").warning("connect postgresql://user:pa55word@db:5432/x")
    err = capsys.readouterr().err
    assert "pa55word" not in err and logs.RUN_ID in err
