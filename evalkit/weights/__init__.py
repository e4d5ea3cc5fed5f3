"""Weights trained by evalkit and shipped with it (each with a model card beside it)."""
