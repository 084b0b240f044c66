"""Figures: image galleries (more views of learned features come with later notebooks)."""
