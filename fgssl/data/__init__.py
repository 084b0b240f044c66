"""Datasets: SynthBirds (embedded), real fine-grained datasets, splits and the uint8 cache."""
