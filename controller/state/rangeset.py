"""Free-range sets on LMDB: the O(log n) core of every allocator (IPs, MACs, VNIs).

A `RangeSet` is the set of free integers under one key prefix, stored as maximal disjoint
inclusive ranges keyed by their LAST value: `prefix + last -> first` (fixed-width big-endian, so
LMDB's order is numeric order). Keying by the last value makes "the first range that ends at or
after n" a single `set_range` seek, which is the question every operation asks:

- `take_lowest` pops the first free value (lowest-free allocation): one seek, one put;
- `take_next(cursor)` pops the first free value at or after `cursor`, wrapping around;
- `take(n)` removes a specific value, splitting its range;
- `release(n)` gives a value back, merging with its neighbours so ranges stay maximal.

Ranges are kept maximal (no two adjacent) so that the stored form is a function of the set
alone: two replicas holding the same free values hold the same bytes.

Write-back (`hold=True`): a bulk create takes hundreds of values in a row off the front of one
range, and each take would rewrite that range's record. A holding set keeps the range it last
took from in memory (`_held`) and keeps taking from it while a take is exactly "the front of
that range"; `flush()` writes the record once. Every other operation flushes first, so reads
and writes through the set always see the same set as eager writing would, and the flushed
bytes are the ones eager writing would have left. The owner must call `flush()` before the
transaction's writes are final (Ctx.flush).
"""

from __future__ import annotations

from typing import Any


class RangeSet:
    __slots__ = ("_held", "_held_is_lowest", "db", "hold", "prefix", "txn", "width")

    def __init__(self, txn: Any, db: Any, prefix: bytes, width: int, hold: bool = False) -> None:
        self.txn = txn
        self.db = db
        self.prefix = prefix
        self.width = width
        self.hold = hold
        # [first, last] of a stored range whose stored first value may be behind `first`
        self._held: list[int] | None = None
        self._held_is_lowest = False  # no free value below the held range

    def flush(self) -> None:
        """Write the held range's first value (if it moved) and stop holding it."""
        held = self._held
        if held is not None:
            self._held = None
            self._put(held[0], held[1])

    def _take_front(self, first: int, last: int, lowest: bool) -> int:
        """Take `first`, the first value of the stored range [first, last]."""
        if first == last:
            self._held = None  # its record goes: whatever it held need not be written
            self.txn.delete(self._key(last), db=self.db)
        elif self.hold:
            self._held = [first + 1, last]
            self._held_is_lowest = lowest
        else:
            self._put(first + 1, last)
        return first

    def _key(self, n: int) -> bytes:
        return self.prefix + n.to_bytes(self.width, "big")

    def _ceiling(self, n: int) -> tuple[int, int] | None:
        """(first, last) of the first range whose last value is >= n, if any."""
        cur = self.txn.cursor(db=self.db)
        if not cur.set_range(self._key(n)):
            return None
        key = cur.key()
        if not key.startswith(self.prefix):
            return None
        return int.from_bytes(cur.value(), "big"), int.from_bytes(key[len(self.prefix) :], "big")

    def _put(self, first: int, last: int) -> None:
        self.txn.put(self._key(last), first.to_bytes(self.width, "big"), db=self.db)

    def _remove(self, first: int, last: int, n: int) -> int:
        """Remove n from the stored range [first, last] that contains it."""
        if n == last:
            self.txn.delete(self._key(last), db=self.db)
        else:
            self._put(n + 1, last)  # same key, new first value
        if first < n:
            self._put(first, n - 1)
        return n

    def take_lowest(self) -> int | None:
        held = self._held
        if held is not None:
            if self._held_is_lowest:
                return self._take_front(held[0], held[1], True)
            self.flush()
        r = self._ceiling(0)
        return None if r is None else self._take_front(r[0], r[1], True)

    def take_next(self, cursor: int) -> int | None:
        """The first free value >= cursor, else the lowest free value (next-fit)."""
        held = self._held
        if held is not None:
            if held[0] == cursor:  # the next value in a row
                return self._take_front(cursor, held[1], self._held_is_lowest)
            self.flush()
        r = self._ceiling(cursor)
        if r is None:
            return self.take_lowest()
        if cursor <= r[0]:
            return self._take_front(r[0], r[1], False)
        return self._remove(r[0], r[1], cursor)

    def take(self, n: int) -> bool:
        """Remove n from the set; False when it is not free."""
        self.flush()
        r = self._ceiling(n)
        if r is None or r[0] > n:
            return False
        self._remove(r[0], r[1], n)
        return True

    def contains(self, n: int) -> bool:
        self.flush()
        r = self._ceiling(n)
        return r is not None and r[0] <= n

    def release(self, n: int) -> None:
        self.add(n, n)

    def add(self, first: int, last: int) -> None:
        """Add [first, last], which must be disjoint from the set, merging with neighbours."""
        self.flush()
        succ = self._ceiling(first)
        if succ is not None and succ[0] <= last:
            raise ValueError(f"range {first}..{last} overlaps free range {succ[0]}..{succ[1]}")
        if first > 0:
            pred_key = self._key(first - 1)
            pred = self.txn.get(pred_key, db=self.db)
            if pred is not None:  # a range ending right before: extend it
                self.txn.delete(pred_key, db=self.db)
                first = int.from_bytes(pred, "big")
        if succ is not None and succ[0] == last + 1:  # a range starting right after: absorb it
            self._put(first, succ[1])
        else:
            self._put(first, last)

    def ranges(self) -> list[tuple[int, int]]:
        """Every free range (first, last) in order (for checks and tests; O(number of ranges))."""
        self.flush()
        out: list[tuple[int, int]] = []
        cur = self.txn.cursor(db=self.db)
        if not cur.set_range(self.prefix):
            return out
        n = len(self.prefix)
        for k, v in cur:
            if not k.startswith(self.prefix):
                break
            out.append((int.from_bytes(v, "big"), int.from_bytes(k[n:], "big")))
        return out

    def clear(self) -> None:
        """Drop every range (collected first: writes go through txn.delete, never a cursor)."""
        for _, last in self.ranges():
            self.txn.delete(self._key(last), db=self.db)
