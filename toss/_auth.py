"""Basic-auth header building and masking of secrets for reprs and logs."""

from __future__ import annotations

import base64

__all__ = ["basic_auth_header", "mask"]


def basic_auth_header(secret_key: str) -> str:
    """``Basic base64(secret_key + ":")`` — Toss requires the trailing colon (facts §1)."""
    # A BOM pasted with the key would make Toss refuse it (docs: base64 starting with 77u/).
    token = base64.b64encode(f"{secret_key.lstrip(chr(0xFEFF))}:".encode()).decode("ascii")
    return f"Basic {token}"


def mask(value: str | None) -> str:
    """Show only the last 4 characters ("…zk0="), enough to tell keys apart in logs."""
    if not value:
        return "…"
    if len(value) <= 8:
        return "…"
    return "…" + value[-4:]
