"""Benchmark library behind ``bmb-es bench``: datasets, the paper's debias filter, metrics, runners, reports.

Heavy dependencies (ranx, bm25s, scipy, matplotlib) are imported inside the functions that need them.
"""
