"""The LMDB schema of the replicated network state: every named database, declared once.

This module owns the layout of the state machine's LMDB environment: which named databases
exist, what their keys and values are, and how keys are encoded. Nothing else opens a named
database or invents a key format; the state machine (`alcor.controller.state`) and the
readers go through `Schema` and the encoders below.

Key encoding rules (so that LMDB's byte order is the order we need):

- resource ids, project ids and host ids are ASCII-safe strings without NUL, joined with a NUL
  separator (`join`), so `prefix + SEP` scans exactly one parent's children;
- integers are fixed-width big-endian (`u32`, `u48`, `u64`) so ranges and revisions sort
  numerically; IPv4 addresses are 4-byte big-endian, MAC addresses 6 bytes.

Values are serialized protobuf messages for resources and events, and small fixed-width
integers elsewhere. Deterministic serialization is used everywhere (`dumps`) so that the same
log gives byte-identical databases on every replica.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import lmdb

SCHEMA_VERSION = 1
SEP = b"\x00"

# The named databases: name -> what it holds ("key -> value").
TABLES: dict[str, str] = {
    # primary records (serialized alcor.v1 messages)
    "vpcs": "vpc id -> Vpc",
    "subnets": "subnet id -> Subnet",
    "ports": "port id -> Port",
    "security_groups": "group id -> SecurityGroup (rules inline)",
    "nodes": "host id -> Node",
    # project scoping indexes (list a project's resources without scanning everyone's)
    "vpcs_by_project": "project \\0 vpc id -> ''",
    "subnets_by_project": "project \\0 subnet id -> ''",
    "ports_by_project": "project \\0 port id -> ''",
    "security_groups_by_project": "project \\0 group id -> ''",
    "default_security_group": "project -> id of the project's group named 'default'",
    # relationship indexes
    "subnets_by_vpc": "vpc id \\0 subnet id -> ''",
    "subnet_cidrs": "vpc id \\0 u32 first address -> u32 last address + subnet id (interval index)",
    "ports_by_subnet": "subnet id \\0 port id -> '' (every subnet the port has an address in)",
    "ports_by_vpc": "vpc id \\0 port id -> ''",
    "ports_by_host": "host id \\0 port id -> u64 revision of the port's last change other than status",
    "ports_by_security_group": "group id \\0 port id -> ''",
    "rule_references": "remote group id \\0 owning group id \\0 rule id -> ''",
    # allocators
    "ip_allocations": "subnet id \\0 u32 address -> port id",
    "ip_free": "subnet id \\0 u32 last -> u32 first (free ranges of the allocation pools, rangeset.py)",
    "mac_allocations": "u48 mac -> port id",
    "mac_free": "u48 last -> u48 first (free ranges of the locally administered MAC space)",
    "vni_free": "u32 last -> u32 first (free ranges of the configured VNI range)",
    # bookkeeping
    "meta": "name -> value (see META_* keys)",
    "changelog": "u64 revision + u32 sequence -> alcor.v1.Event",
    "requests": "caller scope \\0 request id -> u64 revision + 32-byte command digest + Result",
    "requests_by_revision": "u64 revision + request key -> '' (compaction order)",
}

# meta keys
META_SCHEMA_VERSION = b"schema_version"  # u32
META_REVISION = b"revision"  # u64: the cluster revision
META_APPLIED_INDEX = b"applied_index"  # u64: the last Raft log index applied
META_COMPACTED_REVISION = b"compacted_revision"  # u64: changes older than this are gone
META_VNI_RANGE = b"vni_range"  # u32 first + u32 last: the configured VNI range
META_MAC_CURSOR = b"mac_cursor"  # u48: next-fit cursor of the MAC allocator

# Databases and keys a failed or replayed command may still write (the request record and
# the applied index). `Store.state_hash` leaves them out to say "the state did not change".
BOOKKEEPING_TABLES = frozenset({"requests", "requests_by_revision"})
BOOKKEEPING_META_KEYS = frozenset({META_APPLIED_INDEX})

# The locally administered, unicast MAC space the allocator hands out: 02:00:00:00:00:01 ..
# 02:ff:ff:ff:ff:ff (first octet 0x02: "locally administered" bit set, "group" bit clear).
MAC_FIRST = 0x02_00_00_00_00_01
MAC_LAST = 0x02_FF_FF_FF_FF_FF


@dataclasses.dataclass(frozen=True)
class Schema:
    """The open environment and one handle per named database (attribute name = table name)."""

    env: Any
    vpcs: Any
    subnets: Any
    ports: Any
    security_groups: Any
    nodes: Any
    vpcs_by_project: Any
    subnets_by_project: Any
    ports_by_project: Any
    security_groups_by_project: Any
    default_security_group: Any
    subnets_by_vpc: Any
    subnet_cidrs: Any
    ports_by_subnet: Any
    ports_by_vpc: Any
    ports_by_host: Any
    ports_by_security_group: Any
    rule_references: Any
    ip_allocations: Any
    ip_free: Any
    mac_allocations: Any
    mac_free: Any
    vni_free: Any
    meta: Any
    changelog: Any
    requests: Any
    requests_by_revision: Any

    @classmethod
    def open(cls, env: Any) -> Schema:
        """Open (creating when missing) every table of TABLES in `env`."""
        handles = {}
        with env.begin(write=True) as txn:
            for name in TABLES:
                handles[name] = env.open_db(name.encode(), txn=txn, create=True)
        return cls(env=env, **handles)

    def table(self, name: str) -> Any:
        return getattr(self, name)


# Every table is a Schema attribute and the other way round; checked at import.
assert set(TABLES) == {f.name for f in dataclasses.fields(Schema)} - {"env"}


def open_env(path: str, *, map_size: int, sync: bool = True, metasync: bool = False) -> Any:
    """Open the LMDB environment at `path` (a directory) sized for the schema.

    `metasync=False` keeps atomicity and consistency and may lose the last transaction on an
    OS crash; that is safe because the Raft log is the durability point and the applied index
    commits with the state it covers, so lost applies are replayed.
    """
    return lmdb.open(
        path,
        map_size=map_size,
        max_dbs=len(TABLES) + 1,
        sync=sync,
        metasync=metasync,
        # writemap measured no faster here, and with sync off it would give up LMDB's integrity
        # guarantee on an OS crash
        writemap=False,
        readahead=False,
    )


class Message(Protocol):
    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...


def dumps(message: Message) -> bytes:
    """Serialize a protobuf message deterministically (map fields in key order)."""
    return message.SerializeToString(deterministic=True)


def join(*parts: str) -> bytes:
    """A composite key from id parts: NUL-separated UTF-8."""
    return "\x00".join(parts).encode()


def prefix(*parts: str) -> bytes:
    """The key prefix that selects every child of `parts` in a composite-key index."""
    return ("\x00".join(parts) + "\x00").encode()


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u48(n: int) -> bytes:
    return n.to_bytes(6, "big")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def to_int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def event_key(revision: int, seq: int) -> bytes:
    return u64(revision) + u32(seq)
