"""One transaction per service call: commit on success, roll back on any error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

__all__ = ["unit_of_work"]


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit what the block wrote; on an exception roll back (so a ServiceError raised half
    way leaves nothing behind) and re-raise."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
