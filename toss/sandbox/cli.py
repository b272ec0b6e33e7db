"""``python -m toss.sandbox`` / ``billbeat sandbox``: run the Toss look-alike server."""

from __future__ import annotations

import argparse
import logging
import sys

from toss.sandbox.server import run

__all__ = ["main"]

#: Exit codes.
EXIT_OK, EXIT_USAGE, EXIT_STATE = 0, 2, 3

_EPILOG = """examples:
  python -m toss.sandbox --port 8787
  python -m toss.sandbox --port 8787 --state-file var/sandbox.json --latency-ms 200
then point billbeat at it: TOSS_API_BASE=http://127.0.0.1:8787 TOSS_SECRET_KEY=test_sk_demo
"""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted. Returns an exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m toss.sandbox", description="Local Toss Payments billing sandbox.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--state-file", default=None, help="JSON file to persist state in")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every charge")
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or not 0 <= args.port <= 65535:
        print("error: --latency-ms must be >= 0 and --port 0-65535", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("toss.sandbox").info(
        "sandbox listening host=%s port=%d state_file=%s latency_ms=%d",
        args.host, args.port, args.state_file, args.latency_ms,
    )  # fmt: skip
    try:
        run(args.host, args.port, args.state_file, latency_ms=args.latency_ms)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STATE
    return EXIT_OK
