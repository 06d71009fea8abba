"""RangeSet against a model (a Python set), with neighbouring prefixes that must stay untouched."""

from __future__ import annotations

import tempfile

import lmdb
from hypothesis import given, settings
from hypothesis import strategies as st

from alcor.controller.state.rangeset import RangeSet

LO, HI = 10, 60


def maximal(values: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in sorted(values):
        if out and out[-1][1] == v - 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


ops = st.lists(
    st.one_of(
        st.tuples(st.just("lowest"), st.just(0)),
        st.tuples(st.just("next"), st.integers(LO - 2, HI + 2)),
        st.tuples(st.just("take"), st.integers(LO - 2, HI + 2)),
        st.tuples(st.just("release"), st.integers(LO, HI)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops, holes=st.sets(st.integers(LO, HI), max_size=10))
def test_rangeset_matches_a_set(ops: list[tuple[str, int]], holes: set[int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        env = lmdb.open(d, map_size=1 << 24, max_dbs=2)
        db = env.open_db(b"r")
        with env.begin(write=True) as txn:
            neighbours = [RangeSet(txn, db, p, 2) for p in (b"a\x00", b"c\x00")]
            for n in neighbours:
                n.add(0, 5)
            rs = RangeSet(txn, db, b"b\x00", 2)
            model = set(range(LO, HI + 1)) - holes
            for first, last in maximal(model):
                rs.add(first, last)
            assert rs.ranges() == maximal(model)
            for op, n in ops:
                if op == "lowest":
                    got = rs.take_lowest()
                    expect = min(model) if model else None
                elif op == "next":
                    got = rs.take_next(n)
                    after = [v for v in model if v >= n]
                    expect = min(after) if after else (min(model) if model else None)
                elif op == "take":
                    got = rs.take(n)
                    expect = n in model
                    n = n if got else -1
                else:
                    if n in model:
                        continue
                    rs.release(n)
                    model.add(n)
                    got = expect = None
                if op in ("lowest", "next"):
                    assert got == expect
                    if got is not None:
                        model.discard(got)
                elif op == "take":
                    assert got == expect
                    model.discard(n)
                assert rs.ranges() == maximal(model)
                assert all(rs.contains(v) == (v in model) for v in range(LO - 1, HI + 2))
            assert [n.ranges() for n in neighbours] == [[(0, 5)], [(0, 5)]]
            rs.clear()
            assert rs.ranges() == []
            assert [n.ranges() for n in neighbours] == [[(0, 5)], [(0, 5)]]
        env.close()


@settings(max_examples=150, deadline=None)
@given(ops=ops, holes=st.sets(st.integers(LO, HI), max_size=10))
def test_a_holding_rangeset_answers_and_stores_like_an_eager_one(
    ops: list[tuple[str, int]], holes: set[int]
) -> None:
    """hold=True keeps the range it takes from in memory; after flush() the stored bytes must be
    the eager set's, and every answer on the way the same."""
    with tempfile.TemporaryDirectory() as d:
        env = lmdb.open(d, map_size=1 << 24, max_dbs=2)
        db = env.open_db(b"r")
        with env.begin(write=True) as txn:
            eager = RangeSet(txn, db, b"e\x00", 2)
            held = RangeSet(txn, db, b"h\x00", 2, hold=True)
            for rs in (eager, held):
                for first, last in maximal(set(range(LO, HI + 1)) - holes):
                    rs.add(first, last)
            for op, n in ops:
                if op == "lowest":
                    assert held.take_lowest() == eager.take_lowest()
                elif op == "next":
                    assert held.take_next(n) == eager.take_next(n)
                elif op == "take":
                    assert held.take(n) == eager.take(n)
                elif not eager.contains(n):
                    eager.release(n)
                    held.release(n)
            held.flush()
            stored = {k[2:]: v for k, v in txn.cursor(db=db) if k.startswith(b"h\x00")}
            assert stored == {k[2:]: v for k, v in txn.cursor(db=db) if k.startswith(b"e\x00")}
        env.close()
