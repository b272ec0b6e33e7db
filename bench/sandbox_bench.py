"""Sandbox throughput: charges/s through TossClient from a thread pool (run on demand).

    .venv/bin/python bench/sandbox_bench.py [--seconds 10] [--concurrency 32] [--runs 3]

Starts ``python -m toss.sandbox`` as a subprocess, issues one billing key per worker thread,
then charges for ``--seconds`` per run. Prints a table (median of the runs) and a final JSON line.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toss import TossClient  # noqa: E402

SECRET = "test_sk_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/sandbox/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise SystemExit("sandbox did not become healthy")


def one_run(
    url: str, *, seconds: float, concurrency: int, run_no: int
) -> tuple[float, list[float]]:
    client = TossClient(base_url=url, secret_key=SECRET)
    keys = [
        client.issue_billing_key_with_card(
            customer_key=f"bench-{run_no}-{i}", card_number="4330123412341234",
            expiration_year="39", expiration_month="12", identity_number="900101",
        )
        for i in range(concurrency)
    ]  # fmt: skip
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    stop_at = time.monotonic() + seconds

    def worker(i: int) -> None:
        n = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            client.charge(billing_key=keys[i].billing_key, customer_key=keys[i].customer_key,
                          amount=4900, order_id=f"b{run_no}-{i}-{n}", order_name="b")  # fmt: skip
            latencies[i].append(time.perf_counter() - t0)
            n += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    client.close()
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def wrk_run(url: str, *, seconds: float, connections: int, run_no: int) -> float | None:
    """Charges/s measured by wrk (a C load generator: the client is not the bottleneck)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    client = TossClient(base_url=url, secret_key=SECRET)
    key = client.issue_billing_key_with_card(
        customer_key=f"wrk-{run_no}", card_number="4330123412341234",
        expiration_year="39", expiration_month="12", identity_number="900101",
    )  # fmt: skip
    client.close()
    auth = "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
    script = str(Path(__file__).with_name("sandbox_wrk.lua"))
    out = subprocess.run(
        [wrk, "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", "-s", script, url,
         "--", quote(key.billing_key, safe=""), key.customer_key, auth, str(run_no)],
        capture_output=True, text=True, timeout=seconds + 30,
    )  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if "Non-2xx" in out.stdout or not match:
        print(out.stdout, file=sys.stderr)
        return None
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "toss.sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_healthy(url)
        rates, all_lat = [], []
        for run_no in range(args.runs):
            rate, lat = one_run(url, seconds=args.seconds, concurrency=args.concurrency,
                                run_no=run_no)  # fmt: skip
            rates.append(rate)
            all_lat.extend(lat)
            requests.post(f"{url}/sandbox/reset", timeout=5)
            print(f"run {run_no + 1}: {rate:8.0f} charges/s  ({len(lat)} charges)")
        wrk_rates = []
        for run_no in range(args.runs):
            wrk_rate = wrk_run(url, seconds=args.seconds, connections=args.concurrency,
                               run_no=run_no)  # fmt: skip
            if wrk_rate is None:
                break
            wrk_rates.append(wrk_rate)
            requests.post(f"{url}/sandbox/reset", timeout=5)
            print(f"wrk run {run_no + 1}: {wrk_rate:8.0f} charges/s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    all_lat.sort()
    p50 = all_lat[len(all_lat) // 2] * 1000
    p99 = all_lat[min(len(all_lat) - 1, int(len(all_lat) * 0.99))] * 1000
    median = statistics.median(rates)
    print(f"{'metric':<22}{'value':>12}")
    print(f"{'charges/s (median)':<22}{median:>12.0f}")
    print(f"{'latency p50 (ms)':<22}{p50:>12.2f}")
    print(f"{'latency p99 (ms)':<22}{p99:>12.2f}")
    wrk_median = statistics.median(wrk_rates) if wrk_rates else None
    if wrk_median is not None:
        print(f"{'wrk charges/s (median)':<22}{wrk_median:>12.0f}")
    print(f"{'concurrency':<22}{args.concurrency:>12}")
    print(json.dumps({"bench": "sandbox", "charges_per_s": round(median, 1),
                      "wrk_charges_per_s": round(wrk_median, 1) if wrk_median else None,
                      "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
                      "concurrency": args.concurrency, "seconds": args.seconds,
                      "runs": args.runs, "charges": len(all_lat)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
