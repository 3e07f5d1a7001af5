"""Benchmarks: ``python -m bench`` (the server over HTTP); ``bench.client`` (the field client)."""
