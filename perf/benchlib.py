"""What every benchmark shares (DESIGN.md section 9): --quick / --json PATH, a printed table,
and the saved JSON {"figures": {...}, "params": {...}}."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "tests") not in sys.path:  # the benchmarks reuse the tests' cluster helpers
    sys.path.insert(0, str(REPO / "tests"))


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="reduced size, finishes within a minute")
    parser.add_argument("--json", metavar="PATH", help="write the figures and parameters as JSON")
    return parser.parse_args(argv)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(name: str, figures: dict[str, float], params: dict[str, object], json_path: str | None) -> None:
    width = max(len(k) for k in figures)
    print(f"{name} ({platform.node()}, {params.get('mode', '')})")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value:,.3f}" if isinstance(value, float) else f"  {key:<{width}}  {value}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps({"figures": figures, "params": params}, indent=2) + "\n")
        print(f"saved {json_path}")
