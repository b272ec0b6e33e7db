"""Encryption of billing keys at rest (Fernet; several keys for rotation)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["BillingKeyCipher", "CipherError", "generate_key"]


class CipherError(Exception):
    """Encryption is misconfigured or a stored token cannot be decrypted (one-line message)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


class BillingKeyCipher:
    """``BILLBEAT_ENCRYPTION_KEY`` holds one Fernet key or a comma-separated list: the first
    encrypts, all decrypt. Rotation: put the new key first, run ``billbeat keys rotate``
    (re-encrypts every row with the first key), then drop the old key."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CipherError(
                "BILLBEAT_ENCRYPTION_KEY: not set (generate one with `billbeat keys generate`)"
            )
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError):
            raise CipherError(
                "BILLBEAT_ENCRYPTION_KEY: each key must be 32 url-safe base64-encoded bytes"
            ) from None

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise CipherError(
                "BILLBEAT_ENCRYPTION_KEY: a stored billing key cannot be decrypted with the "
                "configured keys (was a key removed before rotation?)"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` with the first key (no-op in meaning; new ciphertext)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise CipherError("BILLBEAT_ENCRYPTION_KEY: cannot rotate a stored key") from None

    def __repr__(self) -> str:
        return "BillingKeyCipher(keys=***)"
