"""Address management: IPv4 addresses per subnet, MAC addresses, VNIs.

Every allocator is a `RangeSet` of free values plus, for IPs and MACs, an allocation table
(value -> port id) that catches duplicates, so each allocation or release costs O(log n) and
never scans a subnet or the MAC space:

- IPs: lowest free address of the subnet's allocation pools. A requested address is taken
  out of the pool when it lies in one; an address of the subnet CIDR outside every pool may
  also be requested (as in Neutron: pools only bound automatic allocation). The allocation
  record remembers which case applied so that release never needs the subnet's pools.
- MACs: next-fit from a cursor over 02:00:00:00:00:01..02:ff:ff:ff:ff:ff (locally
  administered, unicast), so a freed MAC is not handed out again until the space wraps. A
  requested MAC may be any unicast address; inside the managed space it is taken from the set.
- VNIs: lowest free value of the configured range.

In a command that allocates many values (`Ctx.batch`: a bulk port create) every allocator is
one holding `RangeSet` (rangeset.py) kept in the command's `Ctx.memo`, and so is the MAC
cursor: consecutive allocations write each free range and the cursor once, at `Ctx.flush`,
instead of once per port. All access to the free sets goes through the functions below, so
nothing in the command reads a stale record. Other commands write eagerly: for one
allocation, holding would only add work.
"""

from __future__ import annotations

import ipaddress
import socket

from alcor.controller.schema import (
    MAC_FIRST,
    MAC_LAST,
    META_MAC_CURSOR,
    META_VNI_RANGE,
    prefix,
    to_int,
    u32,
    u48,
)
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import already_exists, exhausted, invalid
from alcor.controller.state.rangeset import RangeSet

# ip_allocations values: a flag byte (taken from a pool or not) + the owning port id
_IN_POOL = b"P"
_OUTSIDE_POOL = b"X"


def ip_text(n: int) -> str:
    return socket.inet_ntoa(n.to_bytes(4, "big"))


def ip_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


# ---- IPs ----


def _free_set(ctx: Ctx, db: object, key_prefix: bytes, width: int) -> RangeSet:
    """The free set of `db` under `key_prefix`; in a batch, the command's holding one."""
    if not ctx.batch:
        return RangeSet(ctx.txn, db, key_prefix, width)
    memo_key = ("rangeset", db, key_prefix)
    rs = ctx.memo.get(memo_key)
    if rs is None:
        rs = ctx.memo[memo_key] = RangeSet(ctx.txn, db, key_prefix, width, hold=True)
        ctx.defer_flush(rs.flush)
    return rs


def _pool(ctx: Ctx, subnet_id: str) -> RangeSet:
    return _free_set(ctx, ctx.s.ip_free, prefix(subnet_id), 4)


def init_pools(ctx: Ctx, subnet_id: str, pools: list[tuple[int, int]]) -> None:
    rs = _pool(ctx, subnet_id)
    for first, last in pools:
        rs.add(first, last)


def drop_pools(ctx: Ctx, subnet_id: str) -> None:
    _pool(ctx, subnet_id).clear()


def allocate_ip(ctx: Ctx, subnet_id: str, port_id: str, field: str) -> int:
    pool = _pool(ctx, subnet_id)
    ip = pool.take_lowest()
    if ip is None:
        raise exhausted(f"subnet {subnet_id!r} has no free address", "POOL_EXHAUSTED", field)
    # it was free, so it has no allocation record
    ctx.txn.insert(pool.prefix + u32(ip), _IN_POOL + port_id.encode(), db=ctx.s.ip_allocations)
    return ip


def claim_ip(ctx: Ctx, subnet_id: str, ip: int, port_id: str, field: str) -> None:
    """Record a requested address (already checked to be a usable address of the subnet)."""
    key = prefix(subnet_id) + u32(ip)
    if ctx.txn.get(key, db=ctx.s.ip_allocations) is not None:
        raise already_exists(
            f"{ip_text(ip)} is already allocated in subnet {subnet_id!r}", "IP_IN_USE", field
        )
    flag = _IN_POOL if _pool(ctx, subnet_id).take(ip) else _OUTSIDE_POOL
    ctx.txn.put(key, flag + port_id.encode(), db=ctx.s.ip_allocations)


def release_ip(ctx: Ctx, subnet_id: str, ip: int) -> None:
    key = prefix(subnet_id) + u32(ip)
    record = ctx.txn.get(key, db=ctx.s.ip_allocations)
    ctx.txn.delete(key, db=ctx.s.ip_allocations)
    if record is not None and record[:1] == _IN_POOL:
        _pool(ctx, subnet_id).release(ip)


# ---- MACs ----


def _macs(ctx: Ctx) -> RangeSet:
    return _free_set(ctx, ctx.s.mac_free, b"", 6)


class _MacCursor:
    """The next-fit cursor, read once per command and written back at Ctx.flush."""

    # no reference to the Ctx: it holds this object, and a cycle would keep the command's
    # journal alive until the garbage collector runs
    __slots__ = ("db", "moved", "txn", "value")

    def __init__(self, ctx: Ctx) -> None:
        self.txn, self.db = ctx.txn, ctx.s.meta
        self.value = to_int(self.txn.get(META_MAC_CURSOR, db=self.db))
        self.moved = False
        ctx.defer_flush(self.flush)

    def flush(self) -> None:
        if self.moved:
            self.txn.put(META_MAC_CURSOR, u48(self.value), db=self.db)
            self.moved = False


def _mac_cursor(ctx: Ctx) -> _MacCursor:
    cursor = ctx.memo.get(_MacCursor)
    if cursor is None:
        cursor = ctx.memo[_MacCursor] = _MacCursor(ctx)
    return cursor  # type: ignore[no-any-return]


def init_macs(ctx: Ctx) -> None:
    _macs(ctx).add(MAC_FIRST, MAC_LAST)
    ctx.txn.put(META_MAC_CURSOR, u48(MAC_FIRST), db=ctx.s.meta)


def allocate_mac(ctx: Ctx, port_id: str, field: str) -> int:
    cursor = _mac_cursor(ctx) if ctx.batch else None
    start = to_int(ctx.txn.get(META_MAC_CURSOR, db=ctx.s.meta)) if cursor is None else cursor.value
    mac = _macs(ctx).take_next(start)
    if mac is None:
        raise exhausted("no free MAC address", "MAC_EXHAUSTED", field)
    following = mac + 1 if mac < MAC_LAST else MAC_FIRST
    if cursor is None:
        ctx.txn.put(META_MAC_CURSOR, u48(following), db=ctx.s.meta)
    else:
        cursor.value, cursor.moved = following, True
    ctx.txn.insert(u48(mac), port_id.encode(), db=ctx.s.mac_allocations)  # it was free
    return mac


def claim_mac(ctx: Ctx, mac: int, port_id: str, field: str) -> None:
    key = u48(mac)
    if ctx.txn.get(key, db=ctx.s.mac_allocations) is not None:
        raise already_exists("the MAC address is already in use", "MAC_IN_USE", field)
    if MAC_FIRST <= mac <= MAC_LAST:
        _macs(ctx).take(mac)
    ctx.txn.put(key, port_id.encode(), db=ctx.s.mac_allocations)


def release_mac(ctx: Ctx, mac: int) -> None:
    ctx.txn.delete(u48(mac), db=ctx.s.mac_allocations)
    if MAC_FIRST <= mac <= MAC_LAST:
        _macs(ctx).release(mac)


# ---- VNIs ----


def _vnis(ctx: Ctx) -> RangeSet:
    return RangeSet(ctx.txn, ctx.s.vni_free, b"", 4)


def init_vnis(ctx: Ctx, first: int, last: int) -> None:
    if not 1 <= first <= last <= 0xFFFFFF:
        raise invalid(f"VNI range {first}..{last} is not inside 1..16777215", "", "INVALID_VNI_RANGE")
    ctx.txn.put(META_VNI_RANGE, u32(first) + u32(last), db=ctx.s.meta)
    _vnis(ctx).add(first, last)


def allocate_vni(ctx: Ctx) -> int:
    vni = _vnis(ctx).take_lowest()
    if vni is None:
        raise exhausted("every VNI of the configured range is in use", "VNI_EXHAUSTED")
    return vni


def release_vni(ctx: Ctx, vni: int) -> None:
    _vnis(ctx).release(vni)
