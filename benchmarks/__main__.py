"""``python -m benchmarks NAME``: run one benchmark and print its table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {"plan": "benchmarks.plan", "logs": "benchmarks.logs", "link": "benchmarks.link", "map": "benchmarks.map"}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m benchmarks {{{'|'.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    run = importlib.import_module(BENCHMARKS[argv[0]]).main
    return run(argv[1:]) if len(argv) > 1 else run()  # options go to benchmarks whose main takes argv


sys.exit(main(sys.argv[1:]))
