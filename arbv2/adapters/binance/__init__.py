"""Binance USDⓈ-M perpetual futures: REST exchange adapter and its wire helpers."""
