"""mlinfer: a Triton-compatible inference appliance."""

__version__ = "0.1.0"
