"""Library engines. No Qt here."""
