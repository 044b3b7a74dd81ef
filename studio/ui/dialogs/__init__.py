"""Preferences, Models and Plugins dialogs."""
