"""A local Toss Payments billing look-alike (docs/sandbox.md): real HTTP, scriptable failures."""

from toss.sandbox.app import make_app
from toss.sandbox.cli import main
from toss.sandbox.server import SandboxServer, run

__all__ = ["make_app", "run", "main", "SandboxServer"]
