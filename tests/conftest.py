"""Shared fixtures. Each area keeps its fixtures in tests/fixtures/<area>.py (plugins below)."""

pytest_plugins: list[str] = [
    "tests.fixtures.db",
    "tests.fixtures.redis",
    "tests.fixtures.sandbox",
    "tests.fixtures.cli",
    "tests.fixtures.worker",
]
