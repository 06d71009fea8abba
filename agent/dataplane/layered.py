"""`Layered`: an immutable mapping whose next version costs O(changes), not a copy.

A host's goal state is a value: every delta makes a new one and the old one stays valid (the
reconciler compares the two). Copying a table of a million neighbors for each delta cost about
40 ms. A `Layered` table is a base mapping shared by every version (a dict, or the `NeighborTable`
of a snapshot) plus a small dict of the changes since that base; the changes are folded into a
new base once they reach an eighth of it, so each change costs O(1) amortised. Looking a key up
reads the changes, then the base. Iterating folds (once per version, cached) into a plain dict,
which later versions share as their base; `model.desired` reads a `NeighborTable` base and the
changes apart instead, without folding.

Key order is a dict's, except that a key deleted and then set again keeps its old place.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_GONE: Any = object()  # a change that deletes the base's key
FOLD_SHARE = 8  # fold once the changes outnumber the base's keys / FOLD_SHARE
MIN_FOLD = 64


class Layered(Mapping[K, V]):
    """Build one with `Layered(base)` (taken as it is, never changed) or `updated(...)`."""

    __slots__ = ("_base", "_changes", "_flat", "_len")

    def __init__(
        self, base: Mapping[K, V], changes: dict[K, Any] | None = None, length: int | None = None
    ) -> None:
        self._base = base
        self._changes: dict[K, Any] = changes or {}
        self._len = len(base) if length is None else length
        self._flat: dict[K, V] | None = base if not self._changes and isinstance(base, dict) else None

    def updated(self, upserts: Iterable[tuple[K, V]] = (), deletes: Iterable[K] = ()) -> Layered[K, V]:
        """A new version with `upserts` set, then `deletes` removed (absent keys are ignored)."""
        base, changes, length = self._base, dict(self._changes), self._len
        for key, value in upserts:
            held = changes.get(key, _GONE) if key in changes else base.get(key, _GONE)
            if held is _GONE:
                length += 1
            changes[key] = value
        for key in deletes:
            held = changes.get(key, _GONE) if key in changes else base.get(key, _GONE)
            if held is _GONE:
                continue
            length -= 1
            if key in base:
                changes[key] = _GONE
            else:
                del changes[key]
        if len(changes) > max(MIN_FOLD, len(base) // FOLD_SHARE):
            return Layered(_fold(base, changes))
        return Layered(base, changes, length)

    @property
    def base(self) -> Mapping[K, V]:
        """The mapping this version is layered on (a dict once iterated: see `flat`)."""
        return self._base

    def changes(self) -> tuple[KeysView[K], list[V]]:
        """The keys changed since the base (set or deleted), and the values set."""
        return self._changes.keys(), [v for v in self._changes.values() if v is not _GONE]

    def flat(self) -> dict[K, V]:
        """The contents as a dict (built once per version; do not change it)."""
        if self._flat is None:
            # the fold becomes this version's base: versions made from it share it, and the
            # old base is freed once no version needs it
            self._flat = self._base = _fold(self._base, self._changes)
            self._changes = {}
        return self._flat

    def __getitem__(self, key: K) -> V:
        changes = self._changes
        if key in changes:
            value = changes[key]
            if value is _GONE:
                raise KeyError(key)
            return value  # type: ignore[no-any-return]
        return self._base[key]

    def get(self, key: K, default: Any = None) -> Any:
        changes = self._changes
        if key in changes:
            value = changes[key]
            return default if value is _GONE else value
        return self._base.get(key, default)

    def __contains__(self, key: object) -> bool:
        changes = self._changes
        if key in changes:
            return changes[key] is not _GONE  # type: ignore[index]
        return key in self._base

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[K]:
        return iter(self.flat())

    def keys(self) -> KeysView[K]:
        return self.flat().keys()

    def values(self) -> ValuesView[V]:
        return self.flat().values()

    def items(self) -> ItemsView[K, V]:
        return self.flat().items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Layered):
            other = other.flat()
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.flat() == (other if isinstance(other, dict) else dict(other.items()))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Layered({len(self)} keys, {len(self._changes)} changes over the base)"


def _fold(base: Mapping[K, V], changes: dict[K, Any]) -> dict[K, V]:
    # a base that is not a dict (a snapshot's `NeighborTable`) becomes one here, once
    out = dict(base) if isinstance(base, dict) else dict(base.items())
    for key, value in changes.items():
        if value is _GONE:
            del out[key]
        else:
            out[key] = value
    return out
