"""The per-command apply context: transaction, caller, the revision being written, id minting.

One `Ctx` lives for one command. It owns the things every resource module needs and that
must be the same on every replica: the revision the command would write (current + 1), the
per-command sequence that makes ids and change-log keys unique, and the "did anything change"
flag that decides whether the revision is bumped.

Ids are `<kind>-<revision:012x>-<seq:04x>`: unique because a revision is written by exactly one
command and the sequence is unique within it, deterministic because both come from the log,
and sorting in creation order (so listing by id pages in creation order).

A `Ctx` is also where a command keeps what it may reuse while it runs (`memo`: records it
resolved, allocator state it holds in memory). Such state lives for one command only: a later
command sees the committed bytes, never a cached copy. Write-back state registers a flush with
`defer_flush`; `flush()` writes it before the command's changes are final (apply.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alcor.controller.schema import Schema, dumps, event_key
from alcor.controller.state import records, validate
from alcor.controller.state.errors import invalid, permission_denied
from alcor.controller.state.records import Kind, M
from alcor.internal import command_pb2 as cmd
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

# A command creates at most this many resources and events (bounded by the id format).
MAX_SEQ = 0xFFFF


def varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def embed(field_number: int, payload: bytes) -> bytes:
    """The protobuf encoding of a length-delimited field (an embedded message) holding `payload`."""
    return varint(field_number << 3 | 2) + varint(len(payload)) + payload


class Ctx:
    __slots__ = (
        "_event_heads",
        "_event_seq",
        "_flushes",
        "_id_seq",
        "batch",
        "caller",
        "changed",
        "memo",
        "revision",
        "s",
        "txn",
    )

    def __init__(self, s: Schema, txn: Any, caller: cmd.Caller, revision: int) -> None:
        self.s = s
        self.txn = txn
        self.caller = caller
        self.revision = revision  # the revision this command writes if it changes anything
        self.changed = False
        self._id_seq = 0
        self._event_seq = 0
        self._event_heads: dict[tuple[int, int, str], bytes] = {}
        self._flushes: list[Callable[[], None]] = []
        self.memo: dict[Any, Any] = {}  # per-command reuse (see the module docstring)
        # set by a command that allocates many addresses: allocators then hold (ipam.py)
        self.batch = False

    def defer_flush(self, flush: Callable[[], None]) -> None:
        """Have `flush()` call `flush` (once) to write state a module held in memory."""
        self._flushes.append(flush)

    def flush(self) -> None:
        """Write everything held back; the command's writes are complete after this."""
        for flush in self._flushes:
            flush()
        self._flushes.clear()

    # ---- ids and events ----

    def new_id(self, prefix: str) -> str:
        self._id_seq += 1
        if self._id_seq > MAX_SEQ:
            raise invalid("the command creates too many resources", "", "TOO_MANY_RESOURCES")
        return f"{prefix}-{self.revision:012x}-{self._id_seq:04x}"

    def save(self, kind: Kind[M], msg: M, event_type: int) -> None:
        """Write `msg`'s record and the change event saying so, from one serialization."""
        data = dumps(msg)
        key = kind.key(msg).encode()
        if event_type == watch.EVENT_TYPE_CREATED:  # a created record's key is new
            self.txn.insert(key, data, db=kind.db(self.s))
        else:
            self.txn.put(key, data, db=kind.db(self.s))
        self._append(event_type, kind, kind.project(msg), data)

    def emit(self, event_type: int, kind: Kind[M], msg: M) -> None:
        """Append a change event for `msg` (as it is now: for deletes, as it was)."""
        self._append(event_type, kind, kind.project(msg), dumps(msg))

    def _append(self, event_type: int, kind: Kind[Any], project_id: str, data: bytes) -> None:
        # Event.resource (field 5) is the last field, and a Resource holding one kind is that
        # kind's field: appending both embeddings to the serialized head is exactly the
        # deterministic serialization of the whole Event (tests/controller/test_changelog.py
        # checks it), without copying and re-serializing the resource. The head is the same for
        # every event of one type, kind and project in a command (a bulk create), so it is
        # serialized once.
        head = self._event_heads.get((event_type, kind.resource_kind, project_id))
        if head is None:
            head = self._event_head(event_type, kind.resource_kind, project_id)
        event = head + embed(5, embed(kind.field_number, data))
        self.txn.insert(event_key(self.revision, self._event_seq), event, db=self.s.changelog)
        self._event_seq += 1
        self.changed = True

    def _event_head(self, event_type: int, resource_kind: int, project_id: str) -> bytes:
        """The serialized Event without its resource, remembered for the command."""
        event = watch.Event(
            type=event_type,  # type: ignore[arg-type]
            kind=resource_kind,  # type: ignore[arg-type]
            revision=self.revision,
            project_id=project_id,
        )
        head = self._event_heads[(event_type, resource_kind, project_id)] = dumps(event)
        return head

    # ---- scoping ----

    def target_project(self, requested: str, field: str = "project_id") -> str:
        """The project a new resource goes into.

        Admins may name any project (and must, unless their caller identity carries one); a
        project caller creates in its own project and may only name that one.
        """
        caller = self.caller
        if caller.admin:
            project = requested or caller.project_id
            if not project:
                raise invalid(f"{field} is required for admin callers", field, "FIELD_REQUIRED")
            return validate.project_id(project, field)
        if requested and requested != caller.project_id:
            raise permission_denied(
                f"{field} {requested!r}: a project token may only act in its own project",
                "PROJECT_MISMATCH",
                field,
            )
        return caller.project_id

    def parent(
        self, kind: Kind[M], id_: str, field: str, requested: str, project_field: str = "project_id"
    ) -> tuple[M, str]:
        """The parent of a new resource (a subnet's VPC, a port's subnet) and the new resource's
        project, which is always the parent's: an admin naming no project gets the parent's;
        otherwise the project is `target_project(requested)` and a parent elsewhere is NOT_FOUND.
        """
        if self.caller.admin and not requested:
            found = self.load(kind, id_, field)
            return found, kind.project(found)
        project = self.target_project(requested, project_field)
        return self.load(kind, id_, field, project), project

    def require_admin(self, what: str) -> None:
        if not self.caller.admin:
            raise permission_denied(f"{what} needs an admin token", "ADMIN_ONLY")

    # ---- records ----

    def load(self, kind: Kind[M], id_: str, field: str, project: str | None = None) -> M:
        return records.load(self.s, self.txn, self.caller, kind, id_, field, project)

    def index_project(self, kind: Kind[Any], project: str, id_: str, present: bool = True) -> None:
        key = project.encode() + b"\x00" + id_.encode()
        db = self.s.table(kind.by_project)
        if present:
            self.txn.put(key, b"", db=db)
        else:
            self.txn.delete(key, db=db)

    def stamp(
        self, msg: res.Vpc | res.Subnet | res.Port | res.SecurityGroup | res.Node, created: bool
    ) -> None:
        if created:
            msg.create_revision = self.revision
        msg.revision = self.revision
