"""Detector and fake-maker models, one per file."""
