"""Suite-wide setup: tests/ on sys.path for the shared `support` helpers, and the root/BPF skips."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
