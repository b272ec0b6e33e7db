"""billbeat: recurring billing for Toss Payments automatic payments."""

__version__ = "0.1.0"
