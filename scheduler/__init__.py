"""Beat scheduler: turns subscription cycles into Charge rows and task messages.

``ChargeScheduler.tick(now)`` is the pass (scheduler/tick.py, docs/scheduler.md);
``sweep()`` re-publishes lost or abandoned charges; ``scheduler.beat.BillbeatScheduler`` is the
Celery beat shell (imported by name from the Celery config, not re-exported here so that
importing ``scheduler`` stays free of Celery's beat machinery).
"""

from scheduler.sweep import SweepResult, sweep
from scheduler.tick import ChargeScheduler, PassResult

__all__ = ["ChargeScheduler", "PassResult", "SweepResult", "sweep"]
