"""Voice fixtures: the speaker cache is in tests/conftest.py (the plugin tests use it too)."""
