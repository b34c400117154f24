"""Upbit KRW spot: REST exchange adapter (orders, balances, market rules) and its wire helpers."""
