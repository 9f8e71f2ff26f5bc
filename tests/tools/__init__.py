"""Tests of the development tools: the benchmark driver and the Triton launcher."""
