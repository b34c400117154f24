"""A widely used third-party client (ccxt) cannot tell the simulator from the venues on these paths."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import ccxt.async_support as ccxt  # a dev dependency
import pytest

from arbv2.adapters.simulator import SimulatorServer

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _point_at(exchange, base_url: str) -> None:
    """Send every API family of the client to the simulator (nothing may reach a real venue)."""
    for key, url in list(exchange.urls["api"].items()):
        if isinstance(url, str):
            exchange.urls["api"][key] = base_url + urlsplit(url).path


async def test_ccxt_upbit_and_binanceusdm():
    async with SimulatorServer(seed=9) as sim:
        up = ccxt.upbit({"apiKey": "sim-upbit-access", "secret": "sim-upbit-secret"})
        bn = ccxt.binanceusdm({"apiKey": "sim-binance-key", "secret": "sim-binance-secret",
                               "options": {"fetchCurrencies": False}})
        _point_at(up, sim.upbit_url)
        _point_at(bn, sim.binance_url)
        try:
            ob = await up.fetch_order_book("BTC/KRW")
            assert ob["bids"][0][0] < ob["asks"][0][0] and len(ob["bids"]) == 30
            order = await up.create_market_buy_order_with_cost("BTC/KRW", 100000)
            assert not order["filled"] and order["status"] == "open"     # Upbit answers before the fill
            fetched = await up.fetch_order(order["id"])
            assert fetched["filled"] > 0 and fetched["status"] in ("closed", "canceled")
            assert any(f["uuid"] == order["id"] for f in sim.truth.fills("upbit"))

            ob = await bn.fetch_order_book("BTC/USDT:USDT", 20)
            assert ob["nonce"] > 0 and ob["bids"][0][0] < ob["asks"][0][0]
            order = await bn.create_order("BTC/USDT:USDT", "market", "sell", 0.01)
            assert order["status"] == "closed" and order["filled"] == 0.01
            assert sim.truth.positions("sim-binance-key") == {"BTCUSDT": Decimal("-0.010")}
            positions = await bn.fetch_positions(["BTC/USDT:USDT"])
            assert positions[0]["side"] == "short" and positions[0]["contracts"] == 0.01
            with pytest.raises(ccxt.ExchangeError, match="-4164"):
                await bn.create_order("ETH/USDT:USDT", "market", "buy", 0.001)     # below MIN_NOTIONAL
        finally:
            await up.close()
            await bn.close()
