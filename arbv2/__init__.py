"""arbv2: Upbit KRW spot x Binance USDⓈ-M perpetual arbitrage engine with a Cython hot path."""
__version__ = "0.1.0"
