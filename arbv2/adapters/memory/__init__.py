"""Memory adapters (embedded defaults and shared services)."""
