"""Tracing (OpenTelemetry), structured logs and gateway metrics."""
