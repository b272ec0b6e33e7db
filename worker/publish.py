"""Publishing task messages in batches through one broker connection.

One message per charge (so Flower and retries stay per charge), but one pooled producer for
the whole batch instead of a connection checkout per ``apply_async``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from celery import Celery

from worker import names

__all__ = ["Publisher", "CeleryPublisher", "RecordingPublisher", "PIPELINE_SIZE"]

#: Broker commands buffered before a pipeline flush (a message and its task-sent event are two).
PIPELINE_SIZE = 1000


class Publisher(Protocol):
    def charge(self, charge_ids: Sequence[int]) -> None:
        """Enqueue ``billbeat.charge`` for each id."""
        ...

    def reconcile(self, charge_ids: Sequence[int]) -> None:
        """Enqueue ``billbeat.reconcile`` for each id."""
        ...


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def _send(self, task_name: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._app.producer_or_acquire() as producer, producer.batch(max_size=PIPELINE_SIZE):
            # kombu (>= 5.7) buffers the batch's LPUSHes in one Redis pipeline: one round trip
            # per PIPELINE_SIZE commands instead of one per message. If a flush fails, the rows
            # are committed already and the sweeper re-publishes them.
            for item in ids:
                self._app.send_task(task_name, args=(int(item),), producer=producer)

    def charge(self, charge_ids: Sequence[int]) -> None:
        self._send(names.CHARGE, charge_ids)

    def reconcile(self, charge_ids: Sequence[int]) -> None:
        self._send(names.RECONCILE, charge_ids)


class RecordingPublisher:
    """Keeps what would have been published (unit tests of the scheduler's decisions)."""

    def __init__(self) -> None:
        self.charges: list[int] = []
        self.reconciles: list[int] = []

    def charge(self, charge_ids: Sequence[int]) -> None:
        self.charges.extend(int(i) for i in charge_ids)

    def reconcile(self, charge_ids: Sequence[int]) -> None:
        self.reconciles.extend(int(i) for i in charge_ids)
