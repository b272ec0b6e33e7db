"""Beat scheduler: turns subscription cycles into Charge rows and task messages."""
