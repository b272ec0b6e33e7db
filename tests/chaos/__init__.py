"""Fault-injection scenarios (issue 5): real worker/beat processes, Redis, PostgreSQL and the
sandbox, with faults injected while charges flow. `make chaos` runs them at full size."""
