"""Benchmarks: ``python -m bilm.bench loader`` (text parsing) and ``python -m bilm.bench train``."""
