"""Linearizability of concurrent key-value histories: a thread-safe recorder for client threads
(`History`) and a checker (`check`) that searches for a linearization of each key's operations
against a sequential model, the Wing & Gong search as Lowe improved it (the way Knossos and
Porcupine check histories).

Time comes from an injected clock, read when an operation is invoked and when its answer arrives.
An operation that certainly did not take effect is left out (`failed`). One whose fate is
unknown (`unknown`: a timeout, a connection lost after sending) may take effect at any point
after its invocation or never: it returns at +infinity with an output that matches anything.

A key-value store is linearizable iff each key's register is (P-compositionality), so every key
is searched on its own. The search lines up call and return events in time order and, depth
first, linearizes a pending call whose model step accepts its output; meeting a return event
whose operation is not yet linearized, it backtracks. A (set of linearized operations, model
state) pair it has already been in is not searched again, which keeps it tractable.

Operations with unknown outcomes are what makes such a search blow up (each may go anywhere
after its call), so before searching each key's history is simplified without changing the
answer: a read with an unknown output is dropped (it changes nothing and matches anything); an
unknown write whose value no operation ever reports is dropped (never taking effect is then
always as good as taking effect); an unknown write whose value only it writes and that some
operation reports must have taken effect before the first such report returned, which becomes
its return time.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol, cast

PUT = "put"
GET = "get"


@dataclass(frozen=True, slots=True)
class Op:
    """One operation on one key. `ret` is math.inf and `output` None when the outcome is unknown."""

    id: int
    client: str
    kind: str  # PUT or GET
    key: bytes
    value: bytes  # what a put writes; b"" for a get
    call: float
    ret: float
    output: bytes | None

    def describe(self, origin: float = 0.0) -> str:
        arg = f"{self.value!r}" if self.kind == PUT else ""
        out = "?" if self.output is None else repr(self.output)
        end = "inf" if math.isinf(self.ret) else f"{self.ret - origin:.3f}"
        return f"#{self.id} {self.client} {self.kind}({arg}) -> {out} [{self.call - origin:.3f}, {end}]"


@dataclass(frozen=True, slots=True)
class Counts:
    total: int  # every invoked operation
    ok: int
    unknown: int  # including those still pending
    failed: int


@dataclass(slots=True)
class _Pending:
    client: str
    kind: str
    key: bytes
    value: bytes
    call: float


class History:
    """What clients did, recorded from any number of threads: `invoke` before sending a request,
    then exactly one of `ok`, `unknown` or `failed` for its handle once the answer (or its
    absence) is known. An operation still pending when the history is read counts as unknown."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._done: list[Op] = []
        self._failed = 0
        self._next = 0

    def invoke(self, client: str, kind: str, key: bytes, value: bytes = b"") -> int:
        now = self._clock()
        if kind not in (PUT, GET):
            raise ValueError(f"kind must be {PUT!r} or {GET!r}, not {kind!r}")
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("key and value must be bytes")
        if kind == GET and value:
            raise ValueError("a get takes no value")
        with self._lock:
            handle = self._next
            self._next += 1
            self._pending[handle] = _Pending(client, kind, key, value, now)
        return handle

    def ok(self, handle: int, output: bytes) -> None:
        """The operation took effect and answered `output` (a get: the value, b"" when absent;
        a put: what the server answered, b"index:previous")."""
        now = self._clock()
        if not isinstance(output, bytes):
            raise TypeError("output must be bytes")
        with self._lock:
            p = self._take(handle)
            if now < p.call:
                self._pending[handle] = p
                raise ValueError(f"operation {handle} returned at {now} before its invocation at {p.call}")
            self._done.append(Op(handle, p.client, p.kind, p.key, p.value, p.call, now, output))

    def unknown(self, handle: int) -> None:
        """The operation may have taken effect, at any time after its invocation, or never."""
        with self._lock:
            p = self._take(handle)
            self._done.append(Op(handle, p.client, p.kind, p.key, p.value, p.call, math.inf, None))

    def failed(self, handle: int) -> None:
        """The operation certainly did not take effect: it is left out of the history."""
        with self._lock:
            self._take(handle)
            self._failed += 1

    def _take(self, handle: int) -> _Pending:
        try:
            return self._pending.pop(handle)
        except KeyError:
            raise ValueError(f"operation {handle} was never invoked or is already resolved") from None

    def ops(self) -> list[Op]:
        with self._lock:
            pending = [
                Op(h, p.client, p.kind, p.key, p.value, p.call, math.inf, None)
                for h, p in self._pending.items()
            ]
            return sorted([*self._done, *pending], key=lambda op: op.id)

    def counts(self) -> Counts:
        with self._lock:
            known = sum(1 for op in self._done if op.output is not None)
            return Counts(self._next, known, self._next - known - self._failed, self._failed)


class Model(Protocol):
    """A sequential specification of one key. States must be hashable and compare by value;
    `step` must accept any operation whose output is None (unknown)."""

    def init(self) -> Hashable: ...

    def step(self, state: Hashable, op: Op) -> tuple[bool, Hashable]: ...

    def describe(self, state: Hashable) -> str: ...


class KvRegister:
    """One key of support/kv.py's KvStateMachine behind support/kvserver.py.

    State: (value, index of the put that wrote it). A get answers the value (b"" when absent). A
    put answers b"<log index>:<previous value>", or b"" when the server applied it but kept no
    result (RaftNode: applied before a restart of the proposing process). Puts take effect in
    log order, so on one key each known index must exceed the last known one."""

    def init(self) -> tuple[bytes, int]:
        return b"", 0

    def step(self, state: Hashable, op: Op) -> tuple[bool, Hashable]:
        value, index = cast(tuple[bytes, int], state)
        if op.kind == GET:
            return op.output is None or op.output == value, state
        if not op.output:
            return True, (op.value, index)
        at, sep, previous = op.output.partition(b":")
        if not sep or not at.isdigit():
            raise ValueError(f"a put answered {op.output!r}, not b'index:previous': {op.describe()}")
        return previous == value and int(at) > index, (op.value, int(at))

    def describe(self, state: Hashable) -> str:
        value, index = cast(tuple[bytes, int], state)
        return f"value {value!r} (written at index {index})" if index else f"value {value!r}"


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    key: bytes | None = None  # the first key (in sorted order) not shown linearizable
    explanation: str = ""
    undecided: bool = False  # the search gave up (max_states) before an answer: not shown either way
    ops: int = 0  # operations searched (after simplification) until the answer


def check(
    history: History | Iterable[Op],
    model: Model | None = None,
    *,
    simplify: bool = True,
    max_states: int = 500_000,
) -> Result:
    """Whether the history is linearizable, key by key. `max_states` bounds the states the
    search remembers per key; beyond it the result is not ok and `undecided`."""
    model = model or KvRegister()
    ops = history.ops() if isinstance(history, History) else list(history)
    by_key: dict[bytes, list[Op]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    searched = 0
    for key in sorted(by_key):
        key_ops = _simplified(by_key[key], model) if simplify else by_key[key]
        searched += len(key_ops)
        failure = _search(key_ops, model, max_states)
        if failure is not None:
            text, undecided = failure
            return Result(False, key, f"key {key!r}: {text}", undecided, searched)
    return Result(True, ops=searched)


def _simplified(ops: list[Op], model: Model) -> list[Op]:
    unknown_gets_dropped = [op for op in ops if not (op.kind == GET and op.output is None)]
    if not isinstance(model, KvRegister):
        return unknown_gets_dropped
    writers: dict[bytes, int] = {}
    reported: dict[bytes, float] = {}  # value -> earliest return of an operation that reports it
    for op in unknown_gets_dropped:
        if op.kind == PUT:
            writers[op.value] = writers.get(op.value, 0) + 1
        if op.output is None or (op.kind == PUT and b":" not in op.output):
            continue
        value = op.output if op.kind == GET else op.output.partition(b":")[2]
        reported[value] = min(reported.get(value, math.inf), op.ret)
    out = []
    for op in unknown_gets_dropped:
        if op.output is None:
            if op.value not in reported:
                continue
            if op.value and writers[op.value] == 1:
                op = replace(op, ret=max(op.call, reported[op.value]))
        out.append(op)
    return out


def _search(ops: list[Op], model: Model, max_states: int) -> tuple[str, bool] | None:
    """None when ops linearize; otherwise why not (and whether the search gave up)."""
    n = len(ops)
    events = sorted(
        [(op.call, 0, i) for i, op in enumerate(ops)] + [(op.ret, 1, i) for i, op in enumerate(ops)]
    )
    # a doubly linked list of events: node 0 is the head, node 2n+1 the tail
    size = 2 * n + 2
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))
    node_op = [-1] * size
    is_call = [False] * size
    ret_node = [0] * n
    for pos, (_, kind, i) in enumerate(events, start=1):
        node_op[pos] = i
        is_call[pos] = kind == 0
        if kind:
            ret_node[i] = pos
    tail = size - 1

    def lift(c: int) -> None:
        r = ret_node[node_op[c]]
        nxt[prv[c]], prv[nxt[c]] = nxt[c], prv[c]
        nxt[prv[r]], prv[nxt[r]] = nxt[r], prv[r]

    def unlift(c: int) -> None:
        r = ret_node[node_op[c]]
        nxt[prv[r]] = prv[nxt[r]] = r
        nxt[prv[c]] = prv[nxt[c]] = c

    known = sum(1 for op in ops if not math.isinf(op.ret))
    state = model.init()
    linearized = 0
    stack: list[tuple[int, Hashable]] = []  # (call node, state before it)
    seen: set[tuple[int, Hashable]] = set()
    best: tuple[list[int], int, Hashable, list[int]] | None = None
    entry = nxt[0]
    # with only unknown-outcome operations left, all can go at the end: they match anything
    while known:
        if is_call[entry]:
            i = node_op[entry]
            accepted, after = model.step(state, ops[i])
            if accepted:
                mark = (linearized | (1 << i), after)
                if mark not in seen:
                    if len(seen) >= max_states:
                        return f"undecided: the search gave up after {max_states} states", True
                    seen.add(mark)
                    stack.append((entry, state))
                    state, linearized = after, mark[0]
                    lift(entry)
                    known -= not math.isinf(ops[i].ret)
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
            continue
        # a return (or the tail) of an operation not linearized yet: undo the last choice
        if best is None or len(stack) > len(best[0]):
            pending = []
            walk = nxt[0]
            while walk != entry:
                if is_call[walk]:
                    pending.append(node_op[walk])
                walk = nxt[walk]
            best = ([node_op[c] for c, _ in stack], node_op[entry] if entry != tail else -1, state, pending)
        if not stack:
            break
        entry, state = stack.pop()
        i = node_op[entry]
        linearized &= ~(1 << i)
        unlift(entry)
        known += not math.isinf(ops[i].ret)
        entry = nxt[entry]
    else:
        return None
    assert best is not None
    return _explain(ops, model, *best), False


def _explain(
    ops: list[Op], model: Model, prefix: list[int], stuck: int, state: Hashable, pending: list[int]
) -> str:
    origin = min(op.call for op in ops)
    lines = [f"not linearizable ({len(ops)} operations; times relative to the first call)."]
    shown = prefix[-6:]
    lines.append(
        f"The longest linearizable prefix has {len(prefix)} operations" + (", ending with:" if shown else ".")
    )
    lines += [f"  {ops[i].describe(origin)}" for i in shown]
    lines.append(f"leaving {model.describe(state)}. Then")
    others = [i for i in pending if i != stuck]
    if stuck >= 0:
        lines.append(f"  {ops[stuck].describe(origin)}")
        lines.append(
            "must take effect before it returns, but no order of the operations before and overlapping it"
        )
        lines.append("allows that. Still pending after that prefix" + (":" if others else ": none."))
    else:
        lines.append("no pending operation can take effect:")
    lines += [f"  {ops[i].describe(origin)}" for i in others[:8]]
    if len(others) > 8:
        lines.append(f"  ... and {len(others) - 8} more")
    return "\n".join(lines)
