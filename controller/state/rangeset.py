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
"""

from __future__ import annotations

from typing import Any


class RangeSet:
    __slots__ = ("db", "prefix", "txn", "width")

    def __init__(self, txn: Any, db: Any, prefix: bytes, width: int) -> None:
        self.txn = txn
        self.db = db
        self.prefix = prefix
        self.width = width

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
        r = self._ceiling(0)
        return None if r is None else self._remove(r[0], r[1], r[0])

    def take_next(self, cursor: int) -> int | None:
        """The first free value >= cursor, else the lowest free value (next-fit)."""
        r = self._ceiling(cursor)
        if r is None:
            return self.take_lowest()
        n = max(r[0], cursor)
        return self._remove(r[0], r[1], n)

    def take(self, n: int) -> bool:
        """Remove n from the set; False when it is not free."""
        r = self._ceiling(n)
        if r is None or r[0] > n:
            return False
        self._remove(r[0], r[1], n)
        return True

    def contains(self, n: int) -> bool:
        r = self._ceiling(n)
        return r is not None and r[0] <= n

    def release(self, n: int) -> None:
        self.add(n, n)

    def add(self, first: int, last: int) -> None:
        """Add [first, last], which must be disjoint from the set, merging with neighbours."""
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
