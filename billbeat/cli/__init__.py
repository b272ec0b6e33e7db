"""The ``billbeat`` command line (typer + rich). Entry point: ``billbeat.cli:main``."""

from billbeat.cli.run import main

__all__ = ["main"]
