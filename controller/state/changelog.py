"""The change log: reading events since a revision, and compaction of old history.

Events are appended by `Ctx.emit` under `u64 revision + u32 sequence`, so a cursor walk is in
revision order with no gaps. `Compact{revision}` drops events and request-id records older than
`revision` and records it as the compacted revision; a read that starts before it fails with
OUT_OF_RANGE / REVISION_COMPACTED naming the oldest available revision (watch.proto).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from alcor.controller.schema import META_COMPACTED_REVISION, META_REVISION, Schema, to_int, u64
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import OUT_OF_RANGE, CommandError, compacted
from alcor.internal import command_pb2 as cmd
from alcor.v1 import watch_pb2 as watch


def meta_int(s: Schema, txn: Any, key: bytes) -> int:
    raw = txn.get(key, db=s.meta)
    return 0 if raw is None else to_int(raw)


def current_revision(s: Schema, txn: Any) -> int:
    return meta_int(s, txn, META_REVISION)


def compacted_revision(s: Schema, txn: Any) -> int:
    """Events with a revision below this are gone (0: nothing was ever compacted)."""
    return meta_int(s, txn, META_COMPACTED_REVISION)


def oldest_revision(s: Schema, txn: Any) -> int:
    """The oldest revision a change-log read may start from."""
    return max(compacted_revision(s, txn), 1)


def events_since(
    s: Schema, txn: Any, revision: int, kinds: Collection[int] = (), project_id: str = ""
) -> Iterator[watch.Event]:
    """Events with revision >= `revision`, in order; optionally only of `kinds` / one project.

    Raises CommandError (OUT_OF_RANGE, reason REVISION_COMPACTED, metadata oldest_revision) at
    call time when `revision` is older than the retained history. The iterator reads through
    `txn`, which must stay open while it is consumed.
    """
    oldest = compacted_revision(s, txn)
    if revision < oldest:
        raise compacted(revision, oldest)
    return _events(s, txn, revision, frozenset(kinds), project_id)


def _events(
    s: Schema, txn: Any, revision: int, kinds: frozenset[int], project_id: str
) -> Iterator[watch.Event]:
    cur = txn.cursor(db=s.changelog)
    if not cur.set_range(u64(revision)):
        return
    for value in cur.iternext(keys=False):
        event = watch.Event.FromString(value)
        if kinds and event.kind not in kinds:
            continue
        if project_id and event.project_id != project_id:
            continue
        yield event


def compact(ctx: Ctx, req: cmd.Compact) -> None:
    """Drop change-log events and request records older than `req.revision` (admin only)."""
    ctx.require_admin("Compact")
    s, txn = ctx.s, ctx.txn
    current = current_revision(s, txn)
    if req.revision > current:
        raise CommandError(
            OUT_OF_RANGE,
            f"cannot compact to revision {req.revision}: the current revision is {current}",
            reason="FUTURE_REVISION",
            field="revision",
        )
    if req.revision <= compacted_revision(s, txn):
        return
    # Nothing below can refuse the command: delete without undo records (see Journal.untracked).
    raw = txn.untracked
    bound = u64(req.revision)
    for key in _keys_before(raw, s.changelog, bound):
        raw.delete(key, db=s.changelog)
    for key in _keys_before(raw, s.requests_by_revision, bound):
        raw.delete(key[8:], db=s.requests)
        raw.delete(key, db=s.requests_by_revision)
    txn.put(META_COMPACTED_REVISION, bound, db=s.meta)


def _keys_before(txn: Any, db: Any, bound: bytes) -> list[bytes]:
    """Every key of `db` below `bound` (collected first, then deleted by key, never by cursor)."""
    keys = []
    for key in txn.cursor(db=db).iternext(values=False):
        if key >= bound:
            break
        keys.append(key)
    return keys
