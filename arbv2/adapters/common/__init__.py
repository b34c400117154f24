"""Helpers shared by the exchange adapters: decimals, transport, safety gates, rate-limit specs."""
