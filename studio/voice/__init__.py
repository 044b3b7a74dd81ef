"""Voice engines. No Qt here."""
