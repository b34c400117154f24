"""Redis adapters (embedded defaults and shared services)."""
