"""Redis adapters: shared state, market cache and rate-limit counters."""
