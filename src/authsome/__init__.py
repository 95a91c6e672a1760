"""authsome: a credential helper for people and AI agents."""

__version__ = "0.1.0"
