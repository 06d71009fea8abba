"""`Call`: one RPC described as data (service, method, request, how to read the answer), built
once by the operations in ops.py and executed by the sync or the asyncio transport. Building it
once is what makes retries safe: a write's request id is fixed before the first attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

NETWORK = "alcor.v1.NetworkService"
WATCH = "alcor.v1.WatchService"
CLUSTER = "alcor.v1.ClusterService"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    service: str
    method: str
    request: Any
    result: Callable[[Any], T]  # response message -> what the SDK method returns
    timeout: float | None = None  # the whole call's deadline (None: the client's default)
    # safe to repeat after an ambiguous failure (a read, or a write carrying a request id)
    idempotent: bool = True
    # one attempt may use the whole deadline (a server-side wait), so it is not capped per attempt
    long_poll: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, the token for the next page ("" at the end), and the
    revision the page was served at."""

    items: list[T]
    next_page_token: str
    revision: int


def request_id(given: str | None) -> str:
    """The caller's request id, or a fresh one; fixed for every retry of the call."""
    return given if given else uuid.uuid4().hex
