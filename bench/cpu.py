"""CPU time of the processes taking part in a benchmark run, by group (psutil)."""

from __future__ import annotations

from collections.abc import Sequence


class CpuMeter:
    """CPU seconds used by groups of processes between ``start()`` and ``stop()``.

    Groups: "workers" (the given worker pids and their children), "sandbox", "postgres" (every
    process of the postgres user: other users of the server are counted too) and "bench"
    (this process: the beat or poller threads and the polling).
    """

    def __init__(self, workers: Sequence[int], sandbox: int | None) -> None:
        self.roots = {"workers": list(workers), "sandbox": [sandbox] if sandbox else []}
        self.before: dict[str, dict[int, float]] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        """CPU seconds per pid, per group (a pid's figure only ever grows)."""
        import psutil

        def cpu(p: psutil.Process) -> float:
            t = p.cpu_times()
            return float(t.user + t.system)

        out: dict[str, dict[int, float]] = {}
        for name, pids in self.roots.items():
            group: dict[int, float] = {}
            for pid in pids:
                try:
                    root = psutil.Process(pid)
                    for p in [root, *root.children(recursive=True)]:
                        group[p.pid] = cpu(p)
                except psutil.Error:
                    pass
            out[name] = group
        pg: dict[int, float] = {}
        for p in psutil.process_iter(["username"]):
            try:
                if p.info["username"] == "postgres":
                    pg[p.pid] = cpu(p)
            except psutil.Error:
                pass
        out["postgres"] = pg
        me = psutil.Process()
        out["bench"] = {me.pid: cpu(me)}
        return out

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since ``start()``; processes that exited meanwhile (short-lived
        PostgreSQL backends) are missed, so "postgres" is a lower bound."""
        after = self._sample()
        return {name: sum(max(0.0, v - self.before.get(name, {}).get(pid, 0.0))
                          for pid, v in group.items())
                for name, group in after.items()}  # fmt: skip
