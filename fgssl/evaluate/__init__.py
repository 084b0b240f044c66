"""Frozen-feature evaluation: features, linear probe, kNN, metrics."""
