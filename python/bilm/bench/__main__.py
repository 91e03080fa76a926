"""python -m bilm.bench loader|train|scale|predict|csv|time-to-accuracy [options]: run one benchmark
and print its table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "loader": "bilm.bench.loader",
    "train": "bilm.bench.train",
    "scale": "bilm.bench.scale",
    "predict": "bilm.bench.predict",
    "csv": "bilm.bench.csv_files",
    "time-to-accuracy": "bilm.bench.time_to_accuracy",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m bilm.bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    # Imported only when chosen: each benchmark has its own heavy dependencies.
    module = importlib.import_module(BENCHMARKS[argv[0]])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
