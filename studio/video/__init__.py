"""Video engines. No Qt here."""
