"""Composition root: the CLI, runners, preflight and the admin API."""
