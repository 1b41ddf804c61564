"""Benchmark-only: the fulfilment figures alone, on a stack of their own, for tuning the worker.

    .venv/bin/python bench/fulfilment.py [--orders 200] [--reps 2] [--keep]

Starts the bench stack as `make bench` does and runs its fulfilment scenarios (the raw Temporal
start rate and three-activity workflow, then the order burst) `--reps` times, printing each
repetition as one JSON line. The worker reads its settings from the environment as usual, so
each run can try one setting.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import burst
from run import BenchStack, Ports, fulfilment, raise_stock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="order-api-fulfilment-"))
    stack = BenchStack(data_dir, Ports.pick())
    try:
        stack.start()
        raise_stock(stack)
        for _ in range(args.reps):
            raw, orders = fulfilment(stack, data_dir, args.orders)
            print("\n".join(burst.table_rows(raw, orders)), flush=True)
            line = {"engine": raw.as_json(), "burst": orders.as_json()} | burst.ratios(raw, orders)
            print(json.dumps(line), flush=True)
    finally:
        left = stack.stop()
        if left:
            print(f"left after the stop (killed): {left}", file=sys.stderr)
        if args.keep:
            print(f"kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
