"""The linearizability checker (support/linearizability.py) on hand-written and seeded generated
histories: it accepts what the key-value model allows under concurrency and unknown outcomes,
and rejects stale reads, invented values and put answers that contradict the order."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from support.linearizability import GET, PUT, Counts, History, Op, check


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Writes operations into a History with given invocation and return times."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.history = History(self.clock)

    def put(
        self, client: str, key: bytes, value: bytes, start: float, end: float, output: bytes | None
    ) -> int:
        return self._op(client, PUT, key, value, start, end, output)

    def get(self, client: str, key: bytes, start: float, end: float, output: bytes | None) -> int:
        return self._op(client, GET, key, b"", start, end, output)

    def _op(
        self, client: str, kind: str, key: bytes, value: bytes, start: float, end: float, output: bytes | None
    ) -> int:
        self.clock.now = start
        handle = self.history.invoke(client, kind, key, value)
        self.clock.now = end
        if output is None:
            self.history.unknown(handle)
        else:
            self.history.ok(handle, output)
        return handle


def test_a_sequential_history_is_linearizable() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.get("b", b"x", 2, 3, b"1")
    r.put("b", b"x", b"2", 4, 5, b"2:1")
    r.get("a", b"x", 6, 7, b"2")
    r.get("a", b"y", 8, 9, b"")
    result = check(r.history)
    assert result.ok, result.explanation
    assert result.ops == 5


@pytest.mark.parametrize("seen", [b"", b"1"])
def test_a_read_overlapping_a_write_may_see_either_value(seen: bytes) -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 10, b"1:")
    r.get("b", b"x", 1, 2, seen)
    assert check(r.history).ok


@pytest.mark.parametrize("first", ["p", "q"])
def test_overlapping_writes_linearize_in_either_order(first: str) -> None:
    r = Recorder()
    if first == "p":
        r.put("a", b"x", b"p", 0, 5, b"1:")
        r.put("b", b"x", b"q", 1, 6, b"2:p")
        last = b"q"
    else:
        r.put("a", b"x", b"p", 0, 5, b"2:q")
        r.put("b", b"x", b"q", 1, 6, b"1:")
        last = b"p"
    r.get("c", b"x", 7, 8, last)
    assert check(r.history).ok
    r.get("c", b"x", 9, 10, b"q" if last == b"p" else b"p")
    assert not check(r.history).ok


def test_a_stale_read_after_a_completed_write_is_rejected() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.put("a", b"x", b"2", 2, 3, b"2:1")
    stale = r.get("b", b"x", 4, 5, b"1")
    result = check(r.history)
    assert not result.ok and not result.undecided
    assert result.key == b"x"
    assert f"#{stale} b get() -> b'1'" in result.explanation
    assert "value b'2'" in result.explanation


def test_a_read_of_an_overwritten_value_is_caught_among_concurrent_clients() -> None:
    """The bug class of a deposed leader answering from its own state: a read that began after
    a write completed returns the value that write overwrote, while other clients keep going."""
    r = Recorder()
    r.put("a", b"x", b"old", 0.0, 1.0, b"1:")
    r.get("c", b"x", 1.5, 2.0, b"old")
    r.put("a", b"x", b"new", 2.5, 3.5, b"2:old")  # completed at 3.5 ...
    r.get("b", b"x", 3.0, 6.0, b"old")  # overlaps it: may still see old
    r.put("c", b"x", b"newer", 4.5, 7.0, b"3:new")
    stale = r.get("d", b"x", 4.0, 5.0, b"old")  # ... began after: must not see old
    r.get("a", b"x", 7.5, 8.0, b"newer")
    result = check(r.history)
    assert not result.ok
    assert f"#{stale} d get() -> b'old'" in result.explanation
    without = [op for op in r.history.ops() if op.id != stale]
    assert check(without).ok


def test_a_read_of_a_value_never_written_is_rejected() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.put("b", b"x", b"2", 0.5, 3, None)
    r.get("b", b"x", 4, 5, b"ghost")
    result = check(r.history)
    assert not result.ok and result.key == b"x"


@pytest.mark.parametrize("simplify", [True, False], ids=["simplified", "raw"])
@pytest.mark.parametrize(
    ("reads", "linearizable"),
    [
        ([b"1"], True),  # not applied (yet)
        ([b"2"], True),  # applied
        ([b"1", b"1", b"2"], True),  # applied late
        ([b"2", b"1"], False),  # once applied it stays
        ([b"3"], False),
    ],
)
def test_a_write_with_unknown_outcome_may_apply_any_time_after_its_call_or_never(
    simplify: bool, reads: list[bytes], linearizable: bool
) -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.put("a", b"x", b"2", 2, 3, None)  # a timeout: the client gave up at 3
    for n, seen in enumerate(reads):
        r.get("b", b"x", 10 + 2 * n, 11 + 2 * n, seen)
    assert check(r.history, simplify=simplify).ok is linearizable


@pytest.mark.parametrize("simplify", [True, False], ids=["simplified", "raw"])
def test_an_unknown_write_never_applies_before_its_call(simplify: bool) -> None:
    r = Recorder()
    r.get("b", b"x", 0, 1, b"2")
    r.put("a", b"x", b"2", 2, 3, None)
    assert not check(r.history, simplify=simplify).ok


def test_a_put_answering_a_previous_value_that_contradicts_the_order_is_rejected() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.put("b", b"x", b"2", 2, 3, b"2:")  # claims the key was absent, after 1 was written
    assert not check(r.history).ok


def test_a_put_whose_log_index_goes_backwards_is_rejected() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"5:")
    r.put("b", b"x", b"2", 2, 3, b"4:1")  # previous value fits, but applied before index 5
    assert not check(r.history).ok


def test_a_put_answered_without_its_result_took_effect() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"")  # applied before the proposer restarted: no result kept
    r.get("b", b"x", 2, 3, b"1")
    assert check(r.history).ok
    r.get("b", b"x", 4, 5, b"")
    assert not check(r.history).ok


def test_only_the_broken_key_is_named() -> None:
    r = Recorder()
    for n, key in enumerate([b"a", b"b", b"c"]):
        t = 10.0 * n
        r.put("w", key, key + b"1", t, t + 1, b"%d:" % (2 * n + 1))
        r.put("w", key, key + b"2", t + 2, t + 3, b"%d:%s1" % (2 * n + 2, key))
        r.get("r", key, t + 4, t + 5, key + (b"1" if key == b"b" else b"2"))
    result = check(r.history)
    assert not result.ok and result.key == b"b"
    assert result.explanation.startswith("key b'b': not linearizable")
    assert "b1" in result.explanation


def test_equal_timestamps_count_as_overlapping() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.get("b", b"x", 1, 2, b"")  # invoked at the instant the put returned
    assert check(r.history).ok


def test_the_search_gives_up_as_undecided_beyond_its_state_bound() -> None:
    r = Recorder()
    for n in range(12):
        r.put(f"c{n}", b"x", b"v%d" % n, 0, 100, None)
    for n in range(12):
        r.get("r", b"x", 101 + n, 101.5 + n, b"v%d" % n)  # every write applied, one at a time
    result = check(r.history, simplify=False, max_states=50)
    assert not result.ok and result.undecided
    assert "undecided" in result.explanation
    assert check(r.history).ok


def _sequential(seed: int, count: int) -> list[Op]:
    """A history of one client at a time, with outputs computed by the store itself."""
    rng = random.Random(seed)
    store: dict[bytes, bytes] = {}
    ops = []
    for n in range(count):
        key = rng.choice([b"k0", b"k1", b"k2"])
        if rng.random() < 0.5:
            value = b"v%d" % n
            output = b"%d:%s" % (n + 1, store.get(key, b""))
            store[key] = value
            ops.append(Op(n, f"c{n % 5}", PUT, key, value, float(n), n + 0.5, output))
        else:
            ops.append(Op(n, f"c{n % 5}", GET, key, b"", float(n), n + 0.5, store.get(key, b"")))
    return ops


def test_a_long_generated_sequential_history_passes_and_one_changed_read_fails() -> None:
    ops = _sequential(seed=20240611, count=3000)
    result = check(ops)
    assert result.ok, result.explanation
    assert result.ops == 3000
    rng = random.Random(1)
    reads = [op for op in ops if op.kind == GET and op.output]
    victim = rng.choice(reads)
    earlier = {op.value for op in ops if op.kind == PUT and op.key == victim.key and op.call < victim.call}
    wrong = sorted(earlier - {victim.output})[0]
    mutated = [replace(op, output=wrong) if op is victim else op for op in ops]
    result = check(mutated)
    assert not result.ok and not result.undecided
    assert result.key == victim.key
    assert f"#{victim.id} " in result.explanation


def _concurrent(seed: int, count: int, keys: int = 2) -> list[Op]:
    """A linearizable history with overlapping operations: each takes effect at a random point
    inside its interval; a quarter of the puts time out, of which half take effect later on."""
    rng = random.Random(seed)
    planned = []
    for n in range(count):
        call = rng.uniform(0, count / 2)
        ret = call + rng.expovariate(1.0)
        key = b"k%d" % rng.randrange(keys)
        if rng.random() < 0.5:
            unknown = rng.random() < 0.25
            applies = not unknown or rng.random() < 0.5
            at = rng.uniform(call, ret + (3.0 if unknown else 0.0)) if applies else math.inf
            planned.append((at, n, PUT, key, b"v%d" % n, call, math.inf if unknown else ret))
        else:
            planned.append((rng.uniform(call, ret), n, GET, key, b"", call, ret))
    store: dict[bytes, tuple[bytes, int]] = {}
    ops = []
    for index, (at, n, kind, key, value, call, ret) in enumerate(sorted(planned), start=1):
        current, _ = store.get(key, (b"", 0))
        if kind == GET:
            ops.append(Op(n, "c", kind, key, value, call, ret, current))
            continue
        if not math.isinf(at):
            store[key] = (value, index)
        output = None if math.isinf(ret) else b"%d:%s" % (index, current)
        ops.append(Op(n, "c", kind, key, value, call, ret, output))
    return sorted(ops, key=lambda op: op.id)


def test_generated_concurrent_histories_with_unknown_writes_pass() -> None:
    for seed in range(40):
        ops = _concurrent(seed, count=200, keys=3)
        assert any(op.output is None for op in ops)
        result = check(ops)
        assert result.ok, f"seed {seed}: {result.explanation}"


def test_simplifying_unknown_outcomes_never_changes_the_answer() -> None:
    answers = []
    for seed in range(60):
        ops = _concurrent(seed, count=24, keys=2)
        rng = random.Random(seed)
        reads = [op for op in ops if op.kind == GET]
        values = [op.value for op in ops if op.kind == PUT] + [b""]
        if reads and rng.random() < 0.7:
            victim = rng.choice(reads)
            ops = [replace(op, output=rng.choice(values)) if op is victim else op for op in ops]
        simplified, raw = check(ops), check(ops, simplify=False)
        assert not simplified.undecided and not raw.undecided
        assert simplified.ok is raw.ok, f"seed {seed}: {simplified.explanation or raw.explanation}"
        answers.append(raw.ok)
    assert answers.count(True) >= 10 and answers.count(False) >= 10, answers.count(True)


def test_history_records_outcomes_and_counts_them() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"1:")
    r.put("a", b"x", b"2", 2, 3, None)
    r.clock.now = 4
    dropped = r.history.invoke("b", PUT, b"x", b"3")
    r.history.failed(dropped)
    r.clock.now = 5
    pending = r.history.invoke("c", GET, b"x")
    assert r.history.counts() == Counts(total=4, ok=1, unknown=2, failed=1)
    ops = r.history.ops()
    assert [op.id for op in ops] == [0, 1, pending]
    assert ops[1].ret == math.inf and ops[1].output is None
    assert ops[2].ret == math.inf and ops[2].call == 5
    assert check(r.history).ok


def test_history_refuses_bad_input_and_changes_nothing() -> None:
    r = Recorder()
    h = r.history
    with pytest.raises(ValueError, match="kind"):
        h.invoke("a", "delete", b"x")
    with pytest.raises(ValueError, match="no value"):
        h.invoke("a", GET, b"x", b"1")
    with pytest.raises(TypeError):
        h.invoke("a", PUT, "x", b"1")  # type: ignore[arg-type]
    r.clock.now = 5
    handle = h.invoke("a", PUT, b"x", b"1")
    r.clock.now = 4
    with pytest.raises(ValueError, match="before its invocation"):
        h.ok(handle, b"1:")
    r.clock.now = 6
    h.ok(handle, b"1:")
    with pytest.raises(ValueError, match="already resolved"):
        h.unknown(handle)
    with pytest.raises(ValueError, match="never invoked"):
        h.failed(99)
    assert h.counts() == Counts(total=1, ok=1, unknown=0, failed=0)


def test_a_malformed_put_answer_is_a_clear_error() -> None:
    r = Recorder()
    r.put("a", b"x", b"1", 0, 1, b"garbage")
    with pytest.raises(ValueError, match="index:previous"):
        check(r.history)
