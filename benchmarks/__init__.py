"""Benchmarks for kling_async; see README.md here for the figures and how to reproduce them."""
