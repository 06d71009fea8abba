"""Clocks for the agent tests: nothing sleeps; the delays the agent asks for are recorded."""

from __future__ import annotations

import asyncio


class InstantClock:
    """Every sleep returns at once (after one loop turn); `delays` lists what was asked."""

    def __init__(self) -> None:
        self.t = 0.0
        self.delays: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


class ManualClock:
    """Sleeps end only when the test advances the clock past them."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleepers: list[tuple[float, float, asyncio.Future[None]]] = []  # deadline, delay, future

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.t + seconds, seconds, fut)
        self.sleepers.append(entry)
        try:
            await fut
        finally:
            if entry in self.sleepers:
                self.sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        self.t += seconds
        for entry in list(self.sleepers):
            if entry[0] <= self.t and not entry[2].done():
                entry[2].set_result(None)
                self.sleepers.remove(entry)


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Until `predicate()` holds (the timeout guards a broken test; nothing is timed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)
