"""`Layered` behaves as an immutable dict: every version keeps its contents while newer ones
are made from it, through folds, deletes and keys set again."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alcor.agent.dataplane.layered import Layered

KEYS = st.integers(0, 300)
# one step: which earlier version to build on, the keys set (with a value) and the keys deleted
STEPS = st.lists(
    st.tuples(st.integers(0, 1000), st.lists(st.tuples(KEYS, st.integers())), st.lists(KEYS)),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, st.integers()), STEPS)
def test_every_version_reads_as_the_dict_it_stands_for(start: dict, steps: list) -> None:
    versions = [(Layered(dict(start)), dict(start))]
    for pick, upserts, deletes in steps:
        table, expected = versions[pick % len(versions)]
        after = table.updated(upserts, deletes)
        want = dict(expected)
        want.update(upserts)
        for key in deletes:
            want.pop(key, None)
        versions.append((after, want))
    for table, want in versions:  # the old ones too: nothing was changed in place
        assert len(table) == len(want)
        assert table == want and dict(table.items()) == want
        assert set(table) == set(want)
        for key in range(-1, 302):
            assert (key in table) == (key in want)
            assert table.get(key, "none") == want.get(key, "none")


def test_new_keys_keep_dict_order_and_a_version_reads_without_folding() -> None:
    table = Layered({"a": 1, "b": 2, "c": 3})
    after = table.updated([("d", 4), ("b", 20)], ["a"])
    assert list(after) == ["b", "c", "d"] and after["b"] == 20 and "a" not in after
    assert list(table.items()) == [("a", 1), ("b", 2), ("c", 3)]
    grown = Layered(dict.fromkeys(range(10_000), 0))
    step = grown.updated([(10_000, 1)], [0])
    assert step._changes and step[10_000] == 1 and len(step) == 10_000  # a layer, not a copy
