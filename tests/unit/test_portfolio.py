"""Portfolio: positions from fills, PnL reconciling exactly to the fills (Decimal)."""
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from arbv2.core.model import Fill, Side, Venue
from arbv2.core.portfolio import Portfolio

UP, BN = "BTC/KRW", "BTC/USDT:USDT"
_n = iter(range(10**9))


def fill(venue, symbol, side, qty, price, fee="0", asset=""):
    k = next(_n)
    return Fill(venue, symbol, side, f"c{k}", f"t{k}", D(qty), D(price), D(fee),
                asset or ("KRW" if venue is Venue.UPBIT else "USDT"), k)


def test_worked_example_round_trip_pnl():
    """kimchi-premium.md section 4: +223,000 KRW on Upbit, -100 USDT on Binance at 1,440."""
    p = Portfolio()
    fees = [D("7255"), D("7366.5"), D("5"), D("5.05")]
    p.apply_fill(fill(Venue.UPBIT, UP, Side.BUY, "0.1", "145100000", fees[0]), "rt1")
    p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.SELL, "0.1", "100000", fees[2]), "rt1")
    assert p.position(Venue.UPBIT, UP).quantity == D("0.1")
    assert p.position(Venue.BINANCE_USDM, BN).quantity == D("-0.1")
    assert p.unrealized(Venue.UPBIT, UP, D("147330000")) == D("223000")
    p.apply_fill(fill(Venue.UPBIT, UP, Side.SELL, "0.1", "147330000", fees[1]), "rt1")
    p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.BUY, "0.1", "101000", fees[3]), "rt1")
    p.apply_funding(BN, D("6"), "rt1")                 # 6 x 0.01 % on 10,000 USDT
    rt = p.round_trip_pnl("rt1")
    assert rt.closed
    assert rt.upbit_krw == D("223000") and rt.binance_usdt == D("-100")
    fx = D("1440")
    assert rt.fees_krw(fx) == D("14621.5") + D("10.05") * fx
    assert rt.net_krw(fx) == D("223000") - D("144000") + D("8640") - D("14621.5") - D("14472")
    assert p.position(Venue.UPBIT, UP).realized_pnl == D("223000")
    assert p.position(Venue.BINANCE_USDM, BN).realized_pnl == D("-100")
    tot = p.totals_krw(fx)
    assert tot["net_krw"] == rt.net_krw(fx)


def test_partial_closes_and_flip():
    p = Portfolio()
    p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.SELL, "3", "100"))
    assert p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.BUY, "1", "90")) == D("10")
    pos = p.position(Venue.BINANCE_USDM, BN)
    assert pos.quantity == D("-2") and pos.avg_price == D("100")
    # buy 5: closes 2 (+20), opens a long of 3 at 90
    assert p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.BUY, "5", "90")) == D("20")
    pos = p.position(Venue.BINANCE_USDM, BN)
    assert pos.quantity == D("3") and pos.avg_price == D("90") and pos.realized_pnl == D("30")


def test_duplicate_fill_is_ignored_and_foreign_fee_asset_kept_apart():
    p = Portfolio()
    f = fill(Venue.BINANCE_USDM, BN, Side.SELL, "1", "100", "0.01", "BNB")
    p.apply_fill(f)
    p.apply_fill(f)
    pos = p.position(Venue.BINANCE_USDM, BN)
    assert pos.quantity == D("-1") and pos.fees == 0


prices = st.decimals(min_value="0.01", max_value="200000000", places=2)
qtys = st.decimals(min_value="0.00000001", max_value="5", places=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), qtys, prices), min_size=1, max_size=30), prices)
def test_realized_equals_cash_flows_exactly_once_flat(trades, close_px):
    p = Portfolio()
    cash = D(0)
    for buy, q, px in trades:
        p.apply_fill(fill(Venue.UPBIT, UP, Side.BUY if buy else Side.SELL, q, px))
        cash += -q * px if buy else q * px
    pos = p.position(Venue.UPBIT, UP)
    if pos.quantity != 0:
        side = Side.SELL if pos.quantity > 0 else Side.BUY
        p.apply_fill(fill(Venue.UPBIT, UP, side, abs(pos.quantity), close_px))
        cash += pos.quantity * close_px
    final = p.position(Venue.UPBIT, UP)
    assert final.quantity == 0
    assert final.realized_pnl == cash


def test_a_residual_leg_never_books_its_cash_flow_as_profit():
    """Exit where the Upbit sell filled but the perp buy-back failed: the open short is inventory.

    Found by a 5-minute smoke with rejected orders: the trip's PnL had counted the short's
    sale proceeds (~ the whole notional) as profit.
    """
    p = Portfolio()
    p.apply_fill(fill(Venue.UPBIT, UP, Side.BUY, "0.1", "145100000"), "rt9")
    p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.SELL, "0.1", "100000"), "rt9")
    p.apply_fill(fill(Venue.UPBIT, UP, Side.SELL, "0.1", "147330000"), "rt9")   # the perp leg failed
    rt = p.round_trip_pnl("rt9")
    assert not rt.closed and rt.binance_qty == D("-0.1")
    assert rt.upbit_krw == D("223000")          # the Upbit leg is closed: its realized PnL
    assert rt.binance_usdt == 0                 # the open short realized nothing (was +10,000 USDT)
    assert rt.net_krw(D("1440")) == D("223000")
    p.apply_fill(fill(Venue.BINANCE_USDM, BN, Side.BUY, "0.04", "101000"), "rt9")  # part re-hedged
    assert p.round_trip_pnl("rt9").binance_usdt == D("-40")                    # 0.04 x (100000 - 101000)
