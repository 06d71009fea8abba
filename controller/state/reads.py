"""Read functions over a read (or write) transaction: get, filtered and paginated lists.

Used by the API servicers, watch and the goal-state engine. Every function takes the schema,
an open transaction and the caller, and applies project scoping (records.py): a project caller
sees only its project (naming another project in a list filter is PERMISSION_DENIED; another
project's id is NOT_FOUND); admins see everything; nodes are visible to admins only.

Lists walk the most selective index for the filters given (for ports: subnet, host, vpc, then
project) and check every other filter on the record. Pages are in id order (= creation order)
and the page token is the last id returned, so a page costs O(log n + scanned entries).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from alcor.controller.schema import META_APPLIED_INDEX, Schema, prefix
from alcor.controller.state import records, validate
from alcor.controller.state.changelog import (
    compacted_revision,
    current_revision,
    events_since,
    meta_int,
    oldest_revision,
)
from alcor.controller.state.errors import invalid, permission_denied
from alcor.controller.state.records import NODE, PORT, SECURITY_GROUP, SUBNET, VPC, Kind
from alcor.internal import command_pb2 as cmd
from alcor.v1 import resources_pb2 as res

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Page",
    "applied_index",
    "compacted_revision",
    "current_revision",
    "events_since",
    "get_node",
    "get_port",
    "get_security_group",
    "get_subnet",
    "get_vpc",
    "iter_ports",
    "list_nodes",
    "list_ports",
    "list_security_groups",
    "list_subnets",
    "list_vpcs",
    "oldest_revision",
]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclasses.dataclass
class Page(Generic[T]):
    items: list[T]
    # empty on the last page
    next_page_token: str = ""


def applied_index(s: Schema, txn: Any) -> int:
    return meta_int(s, txn, META_APPLIED_INDEX)


# ---- get ----


def get_vpc(s: Schema, txn: Any, caller: cmd.Caller, id_: str) -> res.Vpc:
    return records.load(s, txn, caller, VPC, id_, "id")


def get_subnet(s: Schema, txn: Any, caller: cmd.Caller, id_: str) -> res.Subnet:
    return records.load(s, txn, caller, SUBNET, id_, "id")


def get_port(s: Schema, txn: Any, caller: cmd.Caller, id_: str) -> res.Port:
    return records.load(s, txn, caller, PORT, id_, "id")


def get_security_group(s: Schema, txn: Any, caller: cmd.Caller, id_: str) -> res.SecurityGroup:
    return records.load(s, txn, caller, SECURITY_GROUP, id_, "id")


def get_node(s: Schema, txn: Any, caller: cmd.Caller, host_id: str) -> res.Node:
    _admin_only(caller)
    return records.load(s, txn, caller, NODE, host_id, "id")


# ---- list ----


def list_vpcs(
    s: Schema, txn: Any, caller: cmd.Caller, *, project_id: str = "", name: str = "",
    page_size: int = 0, page_token: str = "",
) -> Page[res.Vpc]:  # fmt: skip
    project = _scope(caller, project_id)
    return _page(
        s, txn, VPC, _source(s, VPC, project), lambda v: not name or v.name == name, page_size, page_token
    )


def list_subnets(
    s: Schema, txn: Any, caller: cmd.Caller, *, project_id: str = "", vpc_id: str = "", name: str = "",
    page_size: int = 0, page_token: str = "",
) -> Page[res.Subnet]:  # fmt: skip
    project = _scope(caller, project_id)
    source: Source = (s.subnets_by_vpc, vpc_id) if vpc_id else _source(s, SUBNET, project)

    def match(sn: res.Subnet) -> bool:
        return (
            (not project or sn.project_id == project)
            and (not vpc_id or sn.vpc_id == vpc_id)
            and (not name or sn.name == name)
        )

    return _page(s, txn, SUBNET, source, match, page_size, page_token)


def list_ports(
    s: Schema, txn: Any, caller: cmd.Caller, *, project_id: str = "", vpc_id: str = "", subnet_id: str = "",
    host_id: str = "", device_id: str = "", name: str = "", container_id: str = "", page_size: int = 0,
    page_token: str = "",
) -> Page[res.Port]:  # fmt: skip
    """Ports matching every filter given; subnet_id matches any of a port's subnets."""
    project = _scope(caller, project_id)
    source: Source
    if subnet_id:
        source = (s.ports_by_subnet, subnet_id)
    elif host_id:
        source = (s.ports_by_host, host_id)
    elif vpc_id:
        source = (s.ports_by_vpc, vpc_id)
    else:
        source = _source(s, PORT, project)

    def match(p: res.Port) -> bool:
        return (
            (not project or p.project_id == project)
            and (not vpc_id or p.vpc_id == vpc_id)
            and (
                not subnet_id
                or p.subnet_id == subnet_id
                or any(f.subnet_id == subnet_id for f in p.fixed_ips)
            )
            and (not host_id or p.host_id == host_id)
            and (not device_id or p.device_id == device_id)
            and (not name or p.name == name)
            and (not container_id or p.container.container_id == container_id)
        )

    return _page(s, txn, PORT, source, match, page_size, page_token)


def list_security_groups(
    s: Schema, txn: Any, caller: cmd.Caller, *, project_id: str = "", name: str = "",
    page_size: int = 0, page_token: str = "",
) -> Page[res.SecurityGroup]:  # fmt: skip
    project = _scope(caller, project_id)
    source = _source(s, SECURITY_GROUP, project)
    return _page(s, txn, SECURITY_GROUP, source, lambda g: not name or g.name == name, page_size, page_token)


def list_nodes(
    s: Schema, txn: Any, caller: cmd.Caller, *, page_size: int = 0, page_token: str = ""
) -> Page[res.Node]:
    _admin_only(caller)
    return _page(s, txn, NODE, (s.nodes, None), lambda n: True, page_size, page_token)


def iter_ports(
    s: Schema, txn: Any, *, host_id: str = "", vpc_id: str = "", security_group_id: str = ""
) -> Iterator[res.Port]:
    """Every port on a host / in a VPC / in a group (unscoped, for the controller's own use)."""
    if host_id:
        db, parent = s.ports_by_host, host_id
    elif vpc_id:
        db, parent = s.ports_by_vpc, vpc_id
    else:
        db, parent = s.ports_by_security_group, security_group_id
    for pid in records.children(txn, db, prefix(parent)):
        yield res.Port.FromString(txn.get(pid, db=s.ports))


# ---- helpers ----

# (table, parent id): walk the children of `parent` in an index; (primary table, None): walk all.
Source = tuple[Any, str | None]


def _source(s: Schema, kind: Kind[Any], project: str) -> Source:
    if project:
        return s.table(kind.by_project), project
    return kind.db(s), None


def _scope(caller: cmd.Caller, project_id: str) -> str:
    """The project a list is restricted to ("" = every project, admins only)."""
    if caller.admin:
        return project_id
    if project_id and project_id != caller.project_id:
        raise permission_denied(
            f"project_id {project_id!r}: a project token may only list its own project",
            "PROJECT_MISMATCH",
            "project_id",
        )
    return caller.project_id


def _admin_only(caller: cmd.Caller) -> None:
    if not caller.admin:
        raise permission_denied("nodes are visible to admin tokens only", "ADMIN_ONLY")


def _page(
    s: Schema,
    txn: Any,
    kind: Kind[Any],
    source: Source,
    match: Callable[[T], bool],
    page_size: int,
    page_token: str,
) -> Page[T]:
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = _decode_token(page_token)
    db, parent = source
    page: Page[T] = Page(items=[])
    if parent is not None and (len(parent.encode()) > validate.MAX_ID_BYTES or "\x00" in parent):
        return page  # no such parent can exist
    if len(after) > validate.MAX_ID_BYTES:
        return page
    primary = kind.db(s)
    for id_ in records.children(txn, db, b"" if parent is None else prefix(parent), after):
        raw = txn.get(id_, db=primary) if parent is not None else txn.get(id_, db=db)
        if raw is None:
            continue
        item = kind.message.FromString(raw)
        if not match(item):
            continue
        if len(page.items) == size:
            page.next_page_token = _encode_token(page.items[-1])
            break
        page.items.append(item)
    return page


def _encode_token(item: Any) -> str:
    last = item.host_id if isinstance(item, res.Node) else item.id
    return base64.urlsafe_b64encode(last.encode()).decode()


def _decode_token(token: str) -> bytes:
    if not token:
        return b""
    try:
        raw = base64.b64decode(token.encode(), altchars=b"-_", validate=True)
        if not raw:
            raise ValueError(token)
        raw.decode()
        return raw
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise invalid(
            "page_token is not a token from a previous response", "page.page_token", "INVALID_PAGE_TOKEN"
        ) from None
