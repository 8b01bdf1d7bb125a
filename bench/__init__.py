"""Benchmarks (`make bench`): throughput / latency / memory of the processing stages, in-process."""
