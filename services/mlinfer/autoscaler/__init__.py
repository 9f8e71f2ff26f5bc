"""The autoscaler: a pure policy deciding instance counts from load, GPU use and temperature,
and the actuators that apply them (the embedded engine's admin API, a Triton config override).
"""
