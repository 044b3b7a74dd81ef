"""Reusable widgets: parameter forms, the piano roll editor, the jobs list, the log view."""
