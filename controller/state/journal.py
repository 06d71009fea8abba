"""A write-through undo journal over the batch's LMDB write transaction.

A refused command must leave the state untouched. An LMDB nested transaction gives that, but
it copies every page a command touches (LMDB copies a parent's dirty page into the child on
first write), which measured about 8% of a port create. `Journal` writes straight into the
batch transaction and remembers each key's previous value; `rollback()` restores them in
reverse order, which restores the exact previous set of (key, value) pairs.

Every write of a command goes through its Journal (`Ctx.txn`): `put`, `insert` and `delete` here.
`insert` is for keys the command knows to be new (they hold a freshly minted id or revision):
their undo is a delete, so the old value need not be read back; if the key does exist after
all, it degrades to `put`, so a wrong "new" claim costs speed, never correctness. Cursors
handed out by `cursor()` are for reading; a write through a cursor would escape the journal.
The property tests check after every refused command that the state hash did not move.
"""

from __future__ import annotations

from typing import Any


class Journal:
    __slots__ = ("_txn", "_undo")

    def __init__(self, txn: Any) -> None:
        self._txn = txn
        self._undo: list[tuple[Any, bytes, bytes | None]] = []

    def get(self, key: bytes, default: bytes | None = None, db: Any = None) -> bytes | None:
        return self._txn.get(key, default, db=db)

    def cursor(self, db: Any) -> Any:
        """A cursor for reading (never write through it)."""
        return self._txn.cursor(db=db)

    def put(self, key: bytes, value: bytes, db: Any) -> None:
        self._undo.append((db, key, self._txn.replace(key, value, db=db)))

    def insert(self, key: bytes, value: bytes, db: Any) -> None:
        """`put` for a key that should not exist yet (see the module docstring)."""
        if self._txn.put(key, value, db=db, overwrite=False):
            self._undo.append((db, key, None))
        else:
            self.put(key, value, db)

    def delete(self, key: bytes, db: Any) -> None:
        old = self._txn.pop(key, db=db)
        if old is not None:
            self._undo.append((db, key, old))

    @property
    def untracked(self) -> Any:
        """The transaction itself, for bulk deletes after which the command cannot be refused
        (compaction): journaling them would hold every deleted value in memory."""
        return self._txn

    def rollback(self) -> None:
        txn = self._txn
        for db, key, old in reversed(self._undo):
            if old is None:
                txn.delete(key, db=db)
            else:
                txn.put(key, old, db=db)
        self._undo.clear()
