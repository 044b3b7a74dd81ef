"""VADER sentiment for library items' text: a Studio example plugin."""
