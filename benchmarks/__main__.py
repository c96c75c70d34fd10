"""``python -m benchmarks NAME``: run one benchmark and print its table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {"plan": "benchmarks.plan", "logs": "benchmarks.logs", "link": "benchmarks.link"}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in BENCHMARKS:
        print(f"usage: python -m benchmarks {{{'|'.join(BENCHMARKS)}}}", file=sys.stderr)
        return 2
    return importlib.import_module(BENCHMARKS[argv[0]]).main()


sys.exit(main(sys.argv[1:]))
