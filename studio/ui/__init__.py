"""The Qt client of the engines. Nothing outside studio.ui imports from here."""
