"""Example Studio plugin: Euclidean-rhythm drum patterns."""
