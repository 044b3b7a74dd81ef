"""Tile-map game levels by wave function collapse: a Studio example plugin."""
