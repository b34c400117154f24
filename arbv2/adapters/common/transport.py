"""RestTransport: one aiohttp session per adapter, a timeout on every call, redacted request logs.

Transport failures (timeout, refused connection, reset) become VenueUnavailable; the caller
decides whether the request may have reached the venue (orders are looked up, never resent).
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

import aiohttp
from multidict import CIMultiDict

from arbv2.core.errors import VenueUnavailable

log = logging.getLogger("arbv2.adapters.http")

_REDACT = (re.compile(r"(signature=)[0-9a-fA-F]+"), re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+"))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Return `text` with signatures, bearer tokens and the given secret values masked."""
    for pat in _REDACT:
        text = pat.sub(r"\1***", text)
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    return text


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]     # case-insensitive (CIMultiDict)
    body: bytes


class RestTransport:
    """HTTP for one venue base URL; every request bounded by `timeout_s`."""

    def __init__(self, venue: str, base_url: str, timeout_s: float, *, secrets: tuple[str, ...] = ()) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._secrets = tuple(s for s in secrets if s)
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def request(self, method: str, path: str, *, query: str = "", body: bytes | None = None,
                      headers: Mapping[str, str] | None = None, timeout_s: float | None = None) -> RawResponse:
        """Send one request; raise VenueUnavailable on timeouts and connection errors."""
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        started = time.monotonic()
        where = redact(f"{method} {path}" + (f"?{query}" if query else ""), self._secrets)
        try:
            async with asyncio.timeout(timeout_s or self.timeout_s):
                async with self._get_session().request(method, url, data=body, headers=dict(headers or {})) as resp:
                    raw = RawResponse(resp.status, CIMultiDict(resp.headers), await resp.read())
        except TimeoutError:
            log.warning("%s %s: timeout after %.3fs", self.venue, where, time.monotonic() - started)
            raise VenueUnavailable(f"{self.venue}: {method} {path} timed out", venue=self.venue,
                                   code="timeout") from None
        except aiohttp.ClientError as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)
            log.warning("%s %s: %s", self.venue, where, detail)
            raise VenueUnavailable(f"{self.venue}: {method} {path} failed: {detail}",
                                   venue=self.venue, code="connection") from None
        log.debug("%s %s -> %d in %.1f ms", self.venue, where, raw.status, (time.monotonic() - started) * 1e3)
        return raw

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


async def observed_request(transport: RestTransport, metrics: Any, venue: str, method: str, path: str, *,
                           query: str = "", body: bytes | None = None,
                           headers: Mapping[str, str] | None = None) -> RawResponse:
    """Send one request and, with a metrics port, observe adapter_request_seconds by status (or error code)."""
    started = time.monotonic()
    try:
        resp = await transport.request(method, path, query=query, body=body, headers=headers)
    except VenueUnavailable as exc:
        _observe(metrics, venue, path, started, str(exc.code or "error"))
        raise
    _observe(metrics, venue, path, started, str(resp.status))
    return resp


def _observe(metrics: Any, venue: str, path: str, started: float, status: str) -> None:
    if metrics is not None:
        metrics.observe("adapter_request_seconds", time.monotonic() - started,
                        venue=venue, endpoint=path, status=status)
