"""Request scheduling: Triton's dynamic batcher with priority levels and queue policies."""
