"""Image engines. No Qt here."""
