"""The undo journal that makes a refused command leave no trace (apply.py, journal.py)."""

from __future__ import annotations

import re
from pathlib import Path

from alcor.controller.state.journal import Journal
from alcor.controller.state.store import Store

STATE = Path(__file__).resolve().parents[2] / "controller" / "state"


def dump(store: Store, txn) -> dict[bytes, bytes]:
    return dict(txn.cursor(db=store.schema.meta))


def test_rollback_restores_every_pair(store: Store) -> None:
    db = store.schema.meta
    with store.env.begin(write=True) as txn:
        txn.put(b"a", b"1", db=db)
        txn.put(b"b", b"2", db=db)
        before = dump(store, txn)
        journal = Journal(txn)
        journal.put(b"a", b"changed", db=db)  # overwrite
        journal.put(b"a", b"twice", db=db)  # the same key again
        journal.put(b"new", b"x", db=db)  # insert
        journal.delete(b"b", db=db)  # delete
        journal.delete(b"missing", db=db)  # no-op delete
        journal.put(b"b", b"back", db=db)  # re-insert after delete
        assert journal.get(b"b", db=db) == b"back"
        journal.rollback()
        assert dump(store, txn) == before


def test_insert_rolls_back_to_absent_and_never_loses_an_existing_value(store: Store) -> None:
    """`insert` claims the key is new; when it is not, it must still restore the old value."""
    db = store.schema.meta
    with store.env.begin(write=True) as txn:
        txn.put(b"old", b"1", db=db)
        before = dump(store, txn)
        journal = Journal(txn)
        journal.insert(b"new", b"x", db=db)
        journal.insert(b"old", b"wrongly new", db=db)
        assert journal.get(b"new", db=db) == b"x"
        assert journal.get(b"old", db=db) == b"wrongly new"
        journal.rollback()
        assert dump(store, txn) == before


def test_state_modules_never_write_through_a_cursor() -> None:
    """Writes must go through the journal: a cursor write would survive a rollback."""
    offenders = []
    pattern = re.compile(
        r"\b(cur|cursor)\w*\.(put|delete|replace|pop|putmulti)\(|\.cursor\([^)]*\)\.(put|delete)"
    )
    for path in STATE.glob("*.py"):
        if path.name in ("journal.py", "store.py"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []
