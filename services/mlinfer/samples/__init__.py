"""Sample models, generated locally and deterministically (nothing is downloaded)."""
