"""Local exchange simulator: Upbit (KRW spot) and Binance USDⓈ-M speaking their real wire protocols.

    from arbv2.adapters.simulator import SimulatorServer, SimAccount, FaultPlan
    async with SimulatorServer(seed=7) as sim:
        sim.upbit_url, sim.upbit_ws_url, sim.binance_url, sim.binance_ws_url
        sim.truth.book("binance_usdm", "BTCUSDT")

Default account (when `accounts` is None): Upbit access key "sim-upbit-access", secret
"sim-upbit-secret", balances KRW 1,000,000,000, BTC 1, ETH 20, XRP 50,000, USDT 100,000;
Binance API key "sim-binance-key", secret "sim-binance-secret", USDT 1,000,000.
See docs/simulator.md for endpoints, the fault plan format and the admin paths.
"""
from arbv2.adapters.simulator.accounts import SimAccount, default_accounts, load_accounts
from arbv2.adapters.simulator.faults import FaultPlan
from arbv2.adapters.simulator.server import SimulatorServer

__all__ = ["FaultPlan", "SimAccount", "SimulatorServer", "default_accounts", "load_accounts"]
