"""Pretext tasks and baselines, each a Method that fgssl.train.fit() trains."""
