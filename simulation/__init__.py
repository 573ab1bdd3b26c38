"""Replaying request logs against pre-cut strategies: tests and benchmarks only, never shipped."""
