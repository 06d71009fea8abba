"""Jittered exponential backoff between reconnect attempts.

The cap doubles per failed attempt from `initial` up to `maximum`; each delay is drawn uniformly
from [cap / 2, cap] with the injected random source ("equal jitter"): thousands of agents that
lost the same controller spread their reconnects over the window instead of arriving together,
and no delay is ever zero, so a controller that refuses at once is not hammered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 0.1
    maximum: float = 10.0
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"backoff needs 0 < initial ({self.initial}) <= maximum ({self.maximum})")
        if self.multiplier < 1:
            raise ValueError(f"backoff multiplier must be >= 1, not {self.multiplier}")

    def cap(self, attempt: int) -> float:
        """The largest delay of the given attempt (0-based)."""
        return min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))

    def next(self) -> float:
        """The delay before the next attempt; each call counts one more failed attempt."""
        cap = self.cap(self.attempt)
        self.attempt += 1
        return cap / 2 + self.rng.uniform(0, cap / 2)

    def reset(self) -> None:
        self.attempt = 0
