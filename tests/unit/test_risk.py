"""RiskGuard at and past each limit; exits pass everything but untrustworthy books."""
from dataclasses import replace
from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from arbv2.core.config import RiskConfig
from arbv2.core.model import BookHealth, Direction, Venue
from arbv2.core.risk import Exposure, RiskGuard, RiskReason
from arbv2.core.strategy.types import Action, Opportunity

NS = 1_000_000_000
SEOUL = ZoneInfo("Asia/Seoul")
NOW = int(datetime(2026, 3, 2, 12, 0, tzinfo=SEOUL).timestamp()) * NS
RISK = RiskConfig(daily_loss_limit_krw=100_000.0, max_position_krw_per_symbol=3_000_000.0,
                  max_gross_notional_krw=8_000_000.0, max_open_round_trips=2, cooldown_after_loss_s=30.0,
                  cooldown_after_failure_s=60.0, max_residual_krw=50_000.0, max_clock_skew_ms=500.0)


def opp(action=Action.ENTER, notional=1_000_000.0, age_ns=0, base="BTC") -> Opportunity:
    return Opportunity(base, action, Direction.LONG_UPBIT, 0.01, notional, 0.0, 0.0, 0.0, 0.0, 22.0, 12.0,
                       1200.0, 1e8, 7e4, 1e8, 7e4, 1440.0, age_ns, age_ns, NOW)


def health(ok=True, venue=Venue.UPBIT) -> BookHealth:
    return BookHealth(venue, "BTC/KRW", ok, 0, 0.1, not ok, 0, 0, ok)


def guard(**kw) -> RiskGuard:
    return RiskGuard(replace(RISK, **kw), max_book_age_s=2.0, max_order_notional_krw=2_000_000.0)


def check(g, o=None, ex=Exposure(), now=NOW, up=True, bn=True, paused=False):
    return g.check(o or opp(), ex, health(up), health(bn, Venue.BINANCE_USDM), now, paused=paused)


def test_clean_entry_is_approved():
    v = check(guard())
    assert v.approved and v.reason is None


@pytest.mark.parametrize("ex,ok", [
    (Exposure(symbol_notional_krw=2_000_000.0), True),      # 2 M + 1 M = 3 M: at the limit
    (Exposure(symbol_notional_krw=2_000_001.0), False),
])
def test_position_limit_per_symbol(ex, ok):
    v = check(guard(), ex=ex)
    assert v.approved is ok
    assert ok or v.reason is RiskReason.POSITION_LIMIT


@pytest.mark.parametrize("gross,ok", [(6_000_000.0, True), (6_000_001.0, False)])
def test_gross_notional_counts_both_legs(gross, ok):
    v = check(guard(), ex=Exposure(gross_notional_krw=gross))
    assert v.approved is ok and (ok or v.reason is RiskReason.GROSS_NOTIONAL)


@pytest.mark.parametrize("n,ok", [(1, True), (2, False)])
def test_max_open_round_trips(n, ok):
    v = check(guard(), ex=Exposure(open_round_trips=n))
    assert v.approved is ok and (ok or v.reason is RiskReason.MAX_ROUND_TRIPS)


@pytest.mark.parametrize("res,ok", [(50_000.0, True), (50_000.01, False)])
def test_max_residual(res, ok):
    v = check(guard(), ex=Exposure(residual_krw=res))
    assert v.approved is ok and (ok or v.reason is RiskReason.RESIDUAL)


@pytest.mark.parametrize("notional,ok", [(2_000_000.0, True), (2_000_000.5, False)])
def test_max_order_notional(notional, ok):
    v = check(guard(max_position_krw_per_symbol=1e9, max_gross_notional_krw=1e9), o=opp(notional=notional))
    assert v.approved is ok and (ok or v.reason is RiskReason.ORDER_SIZE)


@pytest.mark.parametrize("age_s,reason", [(2.0, None), (2.001, RiskReason.STALE_BOOK),
                                          (-0.5, None), (-0.501, RiskReason.CLOCK_SKEW)])
def test_stale_book_and_clock_skew_refuse_entries_and_exits(age_s, reason):
    for action in (Action.ENTER, Action.EXIT):
        v = check(guard(), o=opp(action, age_ns=int(age_s * NS)))
        assert v.reason is reason


def test_unhealthy_book_refuses_even_exits():
    for action in (Action.ENTER, Action.EXIT):
        v = check(guard(), o=opp(action), bn=False)
        assert not v.approved and v.reason is RiskReason.UNHEALTHY_BOOK and "binance_usdm" in v.detail


def test_daily_loss_at_and_past_the_limit_and_reset_at_seoul_midnight():
    g = guard()
    g.record_round_trip("BTC", D("-99999"), NOW - 3600 * NS)
    assert check(g, now=NOW + 3600 * NS).approved          # 99,999 < 100,000 (cooldown over)
    g.record_round_trip("BTC", D("-1"), NOW)
    v = check(g, now=NOW + 3600 * NS)
    assert v.reason is RiskReason.DAILY_LOSS
    assert check(g, o=opp(Action.EXIT), now=NOW + 3600 * NS).approved   # exits still allowed
    before = int(datetime(2026, 3, 2, 23, 59, 59, tzinfo=SEOUL).timestamp()) * NS
    after = int(datetime(2026, 3, 3, 0, 0, 0, tzinfo=SEOUL).timestamp()) * NS
    assert check(g, now=before).reason is RiskReason.DAILY_LOSS
    assert check(g, now=after).approved
    assert g.day_key(after) == "2026-03-03" and g.daily_loss_krw(after) == 0


def test_gains_offset_losses_within_a_day():
    g = guard()
    g.record_round_trip("BTC", D("50000"), NOW - 7200 * NS)
    g.record_round_trip("BTC", D("-120000"), NOW - 3600 * NS)
    assert g.daily_loss_krw(NOW) == D("70000")
    assert check(g).approved


def test_cooldown_after_loss_is_per_symbol():
    g = guard()
    g.record_round_trip("BTC", D("-10"), NOW)
    assert check(g, now=NOW + 29 * NS).reason is RiskReason.COOLDOWN
    assert check(g, o=opp(base="ETH"), now=NOW + 29 * NS).approved
    assert check(g, now=NOW + 30 * NS).approved


def test_cooldown_after_failure_is_global():
    g = guard()
    g.record_failure("BTC", NOW)
    assert check(g, o=opp(base="ETH"), now=NOW + 59 * NS).reason is RiskReason.COOLDOWN
    assert check(g, o=opp(base="ETH"), now=NOW + 60 * NS).approved
    assert check(g, o=opp(Action.EXIT), now=NOW + 1 * NS).approved


def test_kill_switch_and_pause_stop_entries_not_exits():
    g = guard(kill_switch=True)
    assert check(g).reason is RiskReason.KILL_SWITCH
    assert check(g, o=opp(Action.EXIT)).approved
    g.kill_switch = False
    assert check(g, paused=True).reason is RiskReason.PAUSED


def test_refusals_are_counted_by_reason():
    g = guard(kill_switch=True)
    for _ in range(3):
        check(g)
    check(g, bn=False)
    assert g.blocks == {"kill_switch": 3, "unhealthy_book": 1}
