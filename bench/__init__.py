"""Benchmark scripts, results and plots (not shipped in the wheel; the library code is :mod:`bmb_es.bench`)."""
