"""The send gate: real adapters place or cancel orders only in `sim` (simulator URLs) or gated `live`.

Checked before any socket is opened, so a misconfigured run fails loudly instead of trading.
"""
from __future__ import annotations

from urllib.parse import urlparse

from arbv2.core.config import LIVE_UNLOCK_ENV, LIVE_UNLOCK_VALUE, Config
from arbv2.core.errors import SafetyError

# Hosts of the real venues: `sim` mode must never point at them.
_REAL_HOST_SUFFIXES = ("upbit.com", "binance.com", "binancefuture.com", "binance.vision")


def is_real_venue_url(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return any(host == s or host.endswith("." + s) for s in _REAL_HOST_SUFFIXES)


def check_send_allowed(cfg: Config, rest_url: str, *, live_preflight_passed: bool, action: str) -> None:
    """Raise SafetyError unless `action` (an order placement or cancel) may reach `rest_url`."""
    if cfg.mode == "sim":
        if is_real_venue_url(rest_url):
            raise SafetyError(f"{action}: mode is 'sim' but the venue URL {rest_url} is a real exchange; "
                              "point venues.*.rest_url at the simulator")
        return
    if cfg.mode == "live":
        if cfg.secrets.live_unlock != LIVE_UNLOCK_VALUE:
            raise SafetyError(f"{action}: live trading is locked; set {LIVE_UNLOCK_ENV} as documented")
        if not live_preflight_passed:
            raise SafetyError(f"{action}: live trading needs a passing preflight first")
        return
    raise SafetyError(f"{action}: execution mode is {cfg.mode!r}; real adapters send orders only in "
                      "'sim' or 'live' (paper orders go to the MockAdapter)")
