"""Re-encrypt stored billing keys with the first configured Fernet key (rotation)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import BillingKey
from models.crypto import BillingKeyCipher

__all__ = ["rotate_billing_keys"]

#: Rows re-encrypted per transaction: short transactions keep the database usable meanwhile.
ROTATE_BATCH_ROWS = 50


def rotate_billing_keys(
    session_factory: sessionmaker[Session],
    cipher: BillingKeyCipher,
    *,
    batch_rows: int = ROTATE_BATCH_ROWS,
) -> int:
    """Re-encrypt every stored billing key with ``cipher``'s first key, online, in small
    transactions (walking ids upwards). Returns the number of rows rewritten.

    Safe to rerun; raises CipherError (and stops, earlier batches kept) on a row no
    configured key can decrypt.
    """
    done = 0
    last_id = 0
    while True:
        with session_factory() as session, session.begin():
            rows = session.scalars(
                select(BillingKey)
                .where(BillingKey.id > last_id)
                .order_by(BillingKey.id)
                .limit(batch_rows)
                .with_for_update()
            ).all()
            for row in rows:
                row.billing_key_encrypted = cipher.rotate(row.billing_key_encrypted)
            done += len(rows)
        if len(rows) < batch_rows:
            return done
        last_id = rows[-1].id
