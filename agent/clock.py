"""Time for the agent, injected: `Clock.now()` (monotonic seconds) and `Clock.sleep(seconds)`.

Backoff waits and the periodic resync go through a clock so tests replace it with one they
advance by hand (nothing sleeps in a test, and the delays asked for can be checked exactly).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
