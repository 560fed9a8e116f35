"""Benchmark scripts: each runs the gateway's real code against the simulators and prints figures
that docs/benchmarks.md records (`make bench`)."""
