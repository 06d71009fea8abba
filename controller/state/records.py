"""Resource kinds and record access shared by the state machine and the readers.

Owns: the table of resource kinds (which database, which message, which project index, which
event kind), loading a record by id with project scoping, and small index helpers.

Scoping rule (DESIGN.md section 8): a project caller sees only its own project; an id that
belongs to another project is answered exactly like an id that does not exist (NOT_FOUND), so a
project cannot learn which ids exist elsewhere. Admin callers see every project.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from alcor.controller.schema import Schema
from alcor.controller.state import validate
from alcor.controller.state.errors import not_found
from alcor.internal import command_pb2 as cmd
from alcor.v1 import resources_pb2 as res

M = TypeVar("M", res.Vpc, res.Subnet, res.Port, res.SecurityGroup, res.Node)


@dataclasses.dataclass(frozen=True)
class Kind(Generic[M]):
    label: str  # in messages and NOT_FOUND reasons: "vpc", "subnet", ...
    table: str  # primary table in the Schema
    by_project: str  # project index table ("" for cluster-scoped kinds)
    message: type[M]
    resource_kind: int  # alcor.v1.ResourceKind
    field: str  # the Resource oneof field
    field_number: int  # its number in alcor.v1.Resource

    def db(self, s: Schema) -> Any:
        return getattr(s, self.table)

    def key(self, msg: M) -> str:
        """The record's primary key: its id (a node's host_id)."""
        return msg.host_id if isinstance(msg, res.Node) else msg.id

    def project(self, msg: M) -> str:
        return "" if isinstance(msg, res.Node) else msg.project_id

    def resource(self, msg: M) -> res.Resource:
        r = res.Resource()
        getattr(r, self.field).CopyFrom(msg)
        return r


VPC = Kind("vpc", "vpcs", "vpcs_by_project", res.Vpc, res.RESOURCE_KIND_VPC, "vpc", 1)
SUBNET = Kind("subnet", "subnets", "subnets_by_project", res.Subnet, res.RESOURCE_KIND_SUBNET, "subnet", 2)
PORT = Kind("port", "ports", "ports_by_project", res.Port, res.RESOURCE_KIND_PORT, "port", 3)
SECURITY_GROUP = Kind(
    "security group",
    "security_groups",
    "security_groups_by_project",
    res.SecurityGroup,
    res.RESOURCE_KIND_SECURITY_GROUP,
    "security_group",
    4,
)
NODE = Kind("node", "nodes", "", res.Node, res.RESOURCE_KIND_NODE, "node", 5)
KINDS = (VPC, SUBNET, PORT, SECURITY_GROUP, NODE)


def visible(caller: cmd.Caller, project_id: str) -> bool:
    return caller.admin or project_id == caller.project_id


def load(
    s: Schema, txn: Any, caller: cmd.Caller, kind: Kind[M], id_: str, field: str, project: str | None = None
) -> M:
    """The record `id_` of `kind`, if the caller may see it (and it is in `project`, if given).

    `project` is set when resolving a reference from a new or changed resource: the referenced
    resource must be in the referencing resource's project, even for admin callers.
    """
    validate.ref_id(id_, field, kind.label)
    raw = txn.get(id_.encode(), db=kind.db(s))
    if raw is None:
        raise not_found(kind.label, id_, field)
    msg = kind.message.FromString(raw)
    if kind.by_project:
        owner = msg.project_id  # type: ignore[union-attr,attr-defined]
        if (project is not None and owner != project) or not visible(caller, owner):
            raise not_found(kind.label, id_, field)
    return msg


def in_project(s: Schema, txn: Any, kind: Kind[Any], id_: str, project: str) -> bool:
    """Whether `id_` exists in `project` (an index probe; the record is not parsed)."""
    if len(id_.encode()) > validate.MAX_ID_BYTES or "\x00" in id_:
        return False
    key = project.encode() + b"\x00" + id_.encode()
    return txn.get(key, db=s.table(kind.by_project)) is not None


def has_prefix(txn: Any, db: Any, prefix: bytes) -> bool:
    """Whether any key of `db` starts with `prefix`."""
    cur = txn.cursor(db=db)
    return bool(cur.set_range(prefix)) and cur.key().startswith(prefix)


def children(txn: Any, db: Any, prefix: bytes, after: bytes = b"") -> Iterator[bytes]:
    """The key suffixes under `prefix`, in order, strictly after `prefix + after` when given."""
    cur = txn.cursor(db=db)
    start = prefix + after
    if not cur.set_range(start):
        return
    n = len(prefix)
    for k in cur.iternext(values=False):
        if not k.startswith(prefix):
            return
        if after and k == start:
            continue
        yield k[n:]
