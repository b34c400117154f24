"""Read-only Binance USDⓈ-M documents built from simulator state: exchangeInfo, premiumIndex,
balances, positionRisk, account, userTrades and income. Kept apart from the HTTP layer so truth and REST share them.
"""
from __future__ import annotations

from decimal import Decimal

from arbv2.adapters.simulator.binance_exchange import BinanceExchange
from arbv2.adapters.simulator.specs import decimals_of, fmt

ZERO = Decimal(0)


def exchange_info(ex: BinanceExchange, now_ms: int) -> dict:
    """Return /fapi/v1/exchangeInfo with the filters the simulator enforces."""
    symbols = []
    for spec in ex.specs.values():
        symbols.append({
            "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": spec.base, "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": decimals_of(spec.tick_size), "quantityPrecision": decimals_of(spec.step_size),
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
            "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": fmt(spec.tick_size), "maxPrice": "10000000",
                 "tickSize": fmt(spec.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": fmt(spec.min_qty), "maxQty": fmt(spec.max_qty),
                 "stepSize": fmt(spec.step_size)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(spec.min_qty), "maxQty": fmt(spec.market_max_qty),
                 "stepSize": fmt(spec.step_size)},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": fmt(spec.min_notional)},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                 "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        })
    return {"timezone": "UTC", "serverTime": now_ms, "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}],
            "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": symbols}


def premium_index(ex: BinanceExchange, symbol: str, now_ms: int, funding_rate: float, next_funding: int) -> dict:
    """Return /fapi/v1/premiumIndex for one symbol; `next_funding` is the simulator's next settlement (ms)."""
    spec = ex.specs[symbol]
    pd = decimals_of(spec.tick_size)
    mark = ex.mark(symbol)
    return {"symbol": symbol, "markPrice": fmt(mark, pd + 2), "indexPrice": fmt(mark, pd + 2),
            "estimatedSettlePrice": fmt(mark, pd + 2), "lastFundingRate": f"{funding_rate:.8f}",
            "interestRate": "0.00010000", "nextFundingTime": next_funding, "time": now_ms}


def balances(ex: BinanceExchange, key: str, now_ms: int) -> list[dict]:
    wallet = ex.wallets[key]
    upnl = ex.unrealized(wallet)
    out = []
    for asset, bal in sorted(wallet.balances.items()):
        un = upnl if asset == "USDT" else ZERO
        avail = bal + un - (_used_margin(ex, key) if asset == "USDT" else ZERO)
        out.append({"accountAlias": "SgsR", "asset": asset, "balance": fmt(bal, 8), "crossWalletBalance": fmt(bal, 8),
                    "crossUnPnl": fmt(un, 8), "availableBalance": fmt(avail, 8), "maxWithdrawAmount": fmt(avail, 8),
                    "marginAvailable": True, "updateTime": now_ms})
    return out


def _used_margin(ex: BinanceExchange, key: str) -> Decimal:
    wallet = ex.wallets[key]
    return sum((abs(p.amount) * ex.mark(s) / wallet.leverage.get(s, 20)
                for s, p in wallet.positions.items() if p.amount), ZERO)


def positions(ex: BinanceExchange, key: str, symbol: str | None, only_open: bool, now_ms: int) -> list[dict]:
    wallet = ex.wallets[key]
    out = []
    for sym, spec in ex.specs.items():
        if symbol is not None and sym != symbol:
            continue
        pos = wallet.position(sym)
        if only_open and pos.amount == 0 and not ex.open_orders(key, sym):
            continue
        mark = ex.mark(sym)
        lev = wallet.leverage.get(sym, 20)
        notional = pos.amount * mark
        qd, pd = decimals_of(spec.step_size), decimals_of(spec.tick_size)
        out.append({"symbol": sym, "positionAmt": fmt(pos.amount, qd), "entryPrice": fmt(pos.entry_price, pd + 2),
                    "breakEvenPrice": fmt(pos.entry_price, pd + 2), "markPrice": fmt(mark, pd + 2),
                    "unRealizedProfit": fmt((mark - pos.entry_price) * pos.amount, 8), "liquidationPrice": "0",
                    "leverage": str(lev), "maxNotionalValue": str(max(1, 125 // lev) * 1_000_000),
                    "marginType": wallet.margin_type.get(sym, "CROSSED").lower().replace("crossed", "cross"),
                    "isolatedMargin": "0.00000000", "isAutoAddMargin": "false", "positionSide": "BOTH",
                    "notional": fmt(notional, 8), "isolatedWallet": "0", "marginAsset": "USDT",
                    "initialMargin": fmt(abs(notional) / lev, 8), "maintMargin": fmt(abs(notional) * Decimal("0.004"), 8),
                    "adl": 0, "updateTime": now_ms})
    return out


def account(ex: BinanceExchange, key: str, now_ms: int) -> dict:
    bals = balances(ex, key, now_ms)
    usdt = next((b for b in bals if b["asset"] == "USDT"), None)
    wallet_bal = Decimal(usdt["balance"]) if usdt else ZERO
    upnl = ex.unrealized(ex.wallets[key])
    return {"totalWalletBalance": fmt(wallet_bal, 8), "totalUnrealizedProfit": fmt(upnl, 8),
            "totalMarginBalance": fmt(wallet_bal + upnl, 8),
            "availableBalance": usdt["availableBalance"] if usdt else "0", "maxWithdrawAmount":
            usdt["maxWithdrawAmount"] if usdt else "0", "canTrade": True, "canDeposit": True, "canWithdraw": True,
            "assets": [{"asset": b["asset"], "walletBalance": b["balance"], "unrealizedProfit": b["crossUnPnl"],
                        "marginBalance": b["balance"], "availableBalance": b["availableBalance"],
                        "crossWalletBalance": b["crossWalletBalance"], "updateTime": now_ms} for b in bals],
            "positions": positions(ex, key, None, True, now_ms)}


def user_trades(ex: BinanceExchange, key: str, params: dict[str, str], now_ms: int) -> list[dict]:
    """Return GET /fapi/v1/userTrades: one entry per trade, the venue's field names, string numbers."""
    out = []
    for f in ex.user_trades(key, params, now_ms):
        spec = ex.specs[f["symbol"]]
        pd, qd = decimals_of(spec.tick_size), decimals_of(spec.step_size)
        out.append({"symbol": f["symbol"], "id": f["trade_id"], "orderId": f["order_id"], "side": f["side"],
                    "price": fmt(f["price"], pd), "qty": fmt(f["qty"], qd),
                    "realizedPnl": fmt(f["realized_pnl"], 8), "quoteQty": fmt(f["quote_qty"], pd + qd),
                    "commission": fmt(f["fee"], 8), "commissionAsset": f["fee_currency"], "time": f["ts"],
                    "buyer": f["buyer"], "maker": f["maker"], "positionSide": "BOTH"})
    return out


def income(ex: BinanceExchange, key: str, params: dict[str, str], now_ms: int) -> list[dict]:
    """Return GET /fapi/v1/income: the venue's field names, `income` as a string (8 decimals)."""
    return [{"symbol": e["symbol"], "incomeType": e["income_type"], "income": fmt(e["income"], 8),
             "asset": e["asset"], "info": e["info"], "time": e["time"], "tranId": e["tran_id"],
             "tradeId": e["trade_id"]} for e in ex.income_history(key, params, now_ms)]
