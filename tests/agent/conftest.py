"""The agent tests' helpers (the scripted controller double, clocks) and the load generator are
imported as top-level modules: this folder and perf/ go on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent.parent / "perf"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
