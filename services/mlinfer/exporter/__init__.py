"""Prometheus exposition: Triton's nv_* inference metrics and process metrics."""
