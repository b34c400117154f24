"""In-memory adapters: the embedded defaults that need no outside service."""
