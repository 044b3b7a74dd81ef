"""Offline dictation with pocketsphinx: a Studio example plugin."""
