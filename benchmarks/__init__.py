"""Benchmarks of each stage against a raw-client baseline, run by ``make bench``.

``python -m benchmarks`` measures on one local broker, in one run: the adapters' publish
rate, the processors' throughput, the sink's batching, end-to-end latency and saturation
throughput, and the resident memory of every process kind, then appends a dated section
to ``docs/benchmarks.md``.
"""
