"""Reusable widgets: parameter forms, the piano roll, the jobs list, the log view."""
