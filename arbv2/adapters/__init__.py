"""Adapters: one sub-package per outside system."""
