"""Logging setup: plain or JSON lines, every record carrying the run id, secrets redacted."""
from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid

RUN_ID = os.environ.get("ARBV2_RUN_ID") or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]

_SECRET_PATTERNS = [
    re.compile(r"(signature=)[0-9a-fA-F]+"),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"(X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)[A-Za-z0-9]+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"),
]
_secret_values: set[str] = set()


def register_secrets(values: list[str]) -> None:
    """Add literal secret values that must never appear in a log line."""
    _secret_values.update(v for v in values if v and len(v) >= 4)


def redact(text: str) -> str:
    for pat in _SECRET_PATTERNS:
        text = pat.sub(lambda m: m.group(1) + "***" + (m.group(2) if m.lastindex and m.lastindex >= 2 else ""), text)
    for value in _secret_values:
        text = text.replace(value, "***")
    return text


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = RUN_ID
        return True


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "run_id": RUN_ID,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        for key in ("venue", "symbol", "event", "reason"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        return redact(json.dumps(doc, default=str))


def setup_logging(level: str | None = None, json_lines: bool = False) -> None:
    """Configure the root logger once for the CLI process."""
    level = (level or os.environ.get("ARBV2_LOGGING__LEVEL") or "INFO").upper()
    json_lines = json_lines or os.environ.get("ARBV2_LOGGING__JSON", "").lower() in ("1", "true", "yes")
    handler = logging.StreamHandler()
    handler.addFilter(_RunIdFilter())
    handler.setFormatter(_JsonFormatter() if json_lines else
                         _PlainFormatter("%(asctime)s %(levelname)s %(name)s [%(run_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))
