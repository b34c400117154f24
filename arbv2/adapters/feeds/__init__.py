"""Venue-independent market-data plumbing: the composite MarketData, connections, health, decoders twin."""
