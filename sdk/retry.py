"""Which member to ask next and whether a failed attempt may be repeated: the retry policy
shared by the sync and asyncio transports, with no I/O (the clock is injected).

- UNAVAILABLE (no leader, member down, connection refused or reset): try again, at the leader
  the member named (google.rpc.ErrorInfo metadata `leader_api`) or at the next member.
- DEADLINE_EXCEEDED from one attempt, before the call's own deadline: try again elsewhere when
  the call is idempotent (a read, or a write with its request id: the controller applies a
  request id once and answers a replay with the first result).
- Anything else is the answer, raised as it is.
Once every member was tried, back off briefly (elections take a moment).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .call import Call
from .errors import AlcorError, DeadlineExceeded, Unavailable

BACKOFF_STEP = 0.05
BACKOFF_MAX = 0.5


def parse_endpoints(endpoints: str | Sequence[str]) -> list[str]:
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    out = [e.strip() for e in items if e.strip()]
    if not out:
        raise ValueError("no endpoints given (host:port[,host:port...])")
    return out


class Router:
    """The endpoint list and the member currently preferred; shared by a client's calls."""

    def __init__(self, endpoints: str | Sequence[str]) -> None:
        self.endpoints = parse_endpoints(endpoints)
        self.current = 0

    @property
    def endpoint(self) -> str:
        return self.endpoints[self.current % len(self.endpoints)]

    def redirect(self, err: AlcorError, failed: str) -> None:
        """After a failure at `failed`: go to the named leader, or past the failed member."""
        hint = err.metadata.get("leader_api", "")
        if hint and hint != failed:
            if hint not in self.endpoints:
                self.endpoints.append(hint)
            self.current = self.endpoints.index(hint)
        elif self.endpoint == failed:  # another call may have moved on already
            self.current = (self.current + 1) % len(self.endpoints)


def retryable(err: AlcorError, call: Call[object]) -> bool:
    if isinstance(err, Unavailable):
        return True
    return isinstance(err, DeadlineExceeded) and call.idempotent


class Attempts:
    """The attempts of one call: where and for how long to try next, and what a failure means."""

    def __init__(
        self,
        router: Router,
        call: Call[object],
        default_timeout: float,
        attempt_timeout: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.router = router
        self.call = call
        self.clock = clock
        self.deadline = clock() + (call.timeout if call.timeout is not None else default_timeout)
        self.cap = None if call.long_poll or not call.idempotent else attempt_timeout
        self.count = 0
        self.last: AlcorError | None = None
        self.endpoint = ""

    def next(self) -> tuple[str, float]:
        """The endpoint and the timeout of the next attempt; raises when the deadline passed."""
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            if self.last is not None:
                raise self.last
            raise DeadlineExceeded(f"{self.call.method}: no answer before the deadline")
        self.endpoint = self.router.endpoint
        return self.endpoint, remaining if self.cap is None else min(remaining, self.cap)

    def failed(self, err: AlcorError) -> float:
        """Raise err when it is the answer; otherwise the pause before the next attempt."""
        if not retryable(err, self.call) or self.deadline - self.clock() <= 0:
            raise err
        self.last = err
        self.count += 1
        self.router.redirect(err, self.endpoint)
        rounds, rest = divmod(self.count, len(self.router.endpoints))
        return 0.0 if rest else min(BACKOFF_STEP * rounds, BACKOFF_MAX)
