"""Studio: an offline AI creative studio."""

__all__ = ["__version__"]

__version__ = "0.1.0"
