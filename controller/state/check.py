"""A from-scratch consistency check of the store ("incremental must equal full recompute").

`check(schema, txn)` reads only the primary records (VPCs, subnets, ports, groups, nodes) and
the meta table, recomputes every secondary index and allocator table from them, and compares
with what apply maintained incrementally; it also checks the cross-resource invariants
(references resolve within a project, subnets nested in their VPC and disjoint, addresses
usable and unique, MACs and VNIs unique). It returns a list of problems (empty when healthy).
Linear in the size of the store: for tests and offline checks, never on the apply path.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from alcor.controller.schema import (
    MAC_FIRST,
    MAC_LAST,
    META_REVISION,
    META_VNI_RANGE,
    Schema,
    join,
    prefix,
    to_int,
    u32,
    u48,
)
from alcor.controller.state.records import KINDS, Kind
from alcor.controller.state.security_group import DEFAULT_NAME
from alcor.v1 import resources_pb2 as res

Table = dict[bytes, bytes]


def check(s: Schema, txn: Any) -> list[str]:
    problems: list[str] = []
    records = {kind.table: _records(s, txn, kind) for kind in KINDS}
    vpcs: dict[str, res.Vpc] = records["vpcs"]
    subnets: dict[str, res.Subnet] = records["subnets"]
    ports: dict[str, res.Port] = records["ports"]
    groups: dict[str, res.SecurityGroup] = records["security_groups"]
    revision = to_int(txn.get(META_REVISION, db=s.meta) or b"\0")

    expected: dict[str, Table] = defaultdict(dict)
    for kind in KINDS:
        if kind.by_project:
            for id_, msg in records[kind.table].items():
                expected[kind.by_project][prefix(msg.project_id) + id_.encode()] = b""
        for id_, msg in records[kind.table].items():
            if not 0 < msg.create_revision <= msg.revision <= revision:
                problems.append(
                    f"{kind.label} {id_}: revisions {msg.create_revision}/{msg.revision} vs {revision}"
                )

    # VPCs and VNIs
    vni_range = txn.get(META_VNI_RANGE, db=s.meta)
    vni_first, vni_last = to_int(vni_range[:4]), to_int(vni_range[4:])
    vnis: dict[int, str] = {}
    for vpc in vpcs.values():
        if vpc.vni in vnis:
            problems.append(f"vni {vpc.vni} allocated to {vnis[vpc.vni]} and {vpc.id}")
        vnis[vpc.vni] = vpc.id
        if not vni_first <= vpc.vni <= vni_last:
            problems.append(f"vpc {vpc.id}: vni {vpc.vni} outside the configured range")
    expected["vni_free"] = _free_table(b"", 4, [(vni_first, vni_last)], vnis)

    # subnets
    by_vpc: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for sn in subnets.values():
        parent = vpcs.get(sn.vpc_id)
        cidr = ipaddress.IPv4Network(sn.cidr)
        if parent is None or parent.project_id != sn.project_id:
            problems.append(f"subnet {sn.id}: vpc {sn.vpc_id} missing or in another project")
        elif not cidr.subnet_of(ipaddress.IPv4Network(parent.cidr)):
            problems.append(f"subnet {sn.id}: {sn.cidr} outside vpc {parent.cidr}")
        first, last = int(cidr.network_address), int(cidr.broadcast_address)
        by_vpc[sn.vpc_id].append((first, last, sn.id))
        expected["subnets_by_vpc"][prefix(sn.vpc_id) + sn.id.encode()] = b""
        expected["subnet_cidrs"][prefix(sn.vpc_id) + u32(first)] = u32(last) + sn.id.encode()
        gateway = int(ipaddress.IPv4Address(sn.gateway_ip))
        if not first < gateway < last:
            problems.append(f"subnet {sn.id}: gateway {sn.gateway_ip} not usable")
        for pool in sn.allocation_pools:
            a, b = int(ipaddress.IPv4Address(pool.start)), int(ipaddress.IPv4Address(pool.end))
            if not first < a <= b < last or a <= gateway <= b:
                problems.append(f"subnet {sn.id}: pool {pool.start}-{pool.end} invalid")
    for vpc_id, ranges in by_vpc.items():
        ranges.sort()
        for (_, prev_last, prev_id), (first, _, id_) in itertools.pairwise(ranges):
            if first <= prev_last:
                problems.append(f"vpc {vpc_id}: subnets {prev_id} and {id_} overlap")

    # ports, addresses, MACs
    taken: dict[str, dict[int, str]] = defaultdict(dict)  # subnet -> in-pool address -> port
    macs: dict[int, str] = {}
    for p in ports.values():
        home = subnets.get(p.subnet_id)
        if home is None or home.project_id != p.project_id or home.vpc_id != p.vpc_id:
            problems.append(f"port {p.id}: subnet {p.subnet_id} missing, in another project or vpc")
        pid = p.id.encode()
        expected["ports_by_vpc"][prefix(p.vpc_id) + pid] = b""
        if p.host_id:
            # the value, the configuration revision, is history: check its bounds, not its value
            raw = txn.get(prefix(p.host_id) + pid, db=s.ports_by_host)
            if raw is None or not p.create_revision <= to_int(raw) <= p.revision:
                problems.append(f"port {p.id}: host index entry missing or its revision out of bounds")
            expected["ports_by_host"][prefix(p.host_id) + pid] = raw or b""
        expected["ports_by_subnet"][prefix(p.subnet_id) + pid] = b""
        for f in p.fixed_ips:
            expected["ports_by_subnet"][prefix(f.subnet_id) + pid] = b""
            problems.extend(_check_address(p, f, subnets.get(f.subnet_id), expected["ip_allocations"], taken))
        for gid in p.security_group_ids:
            expected["ports_by_security_group"][prefix(gid) + pid] = b""
            g = groups.get(gid)
            if g is None or g.project_id != p.project_id:
                problems.append(f"port {p.id}: security group {gid} missing or in another project")
        mac = int(p.mac_address.replace(":", ""), 16)
        if mac in macs:
            problems.append(f"mac {p.mac_address} allocated to {macs[mac]} and {p.id}")
        macs[mac] = p.id
        expected["mac_allocations"][u48(mac)] = pid
    for sn in subnets.values():
        pools = [
            (int(ipaddress.IPv4Address(r.start)), int(ipaddress.IPv4Address(r.end)))
            for r in sn.allocation_pools
        ]
        expected["ip_free"].update(_free_table(prefix(sn.id), 4, pools, taken[sn.id]))
    in_space = {m: pid for m, pid in macs.items() if MAC_FIRST <= m <= MAC_LAST}
    expected["mac_free"] = _free_table(b"", 6, [(MAC_FIRST, MAC_LAST)], in_space)

    # security groups
    defaults: dict[str, str] = {}
    for g in groups.values():
        if g.name == DEFAULT_NAME:
            if g.project_id in defaults:
                problems.append(f"project {g.project_id}: two groups named {DEFAULT_NAME!r}")
            defaults[g.project_id] = g.id
            expected["default_security_group"][g.project_id.encode()] = g.id.encode()
        for rule in g.rules:
            if rule.security_group_id != g.id:
                problems.append(f"rule {rule.id}: names group {rule.security_group_id}, stored in {g.id}")
            if rule.remote_group_id:
                remote = groups.get(rule.remote_group_id)
                if remote is None or remote.project_id != g.project_id:
                    problems.append(
                        f"rule {rule.id}: remote group {rule.remote_group_id} missing or elsewhere"
                    )
                expected["rule_references"][join(rule.remote_group_id, g.id, rule.id)] = b""

    for table in (
        "vpcs_by_project", "subnets_by_project", "ports_by_project", "security_groups_by_project",
        "default_security_group", "subnets_by_vpc", "subnet_cidrs", "ports_by_subnet", "ports_by_vpc",
        "ports_by_host", "ports_by_security_group", "rule_references",
        "ip_allocations", "ip_free", "mac_allocations", "mac_free", "vni_free",
    ):  # fmt: skip
        problems.extend(_compare(table, _table(txn, s.table(table)), expected[table]))

    last_event = _last_key(txn, s.changelog)
    if last_event is not None and to_int(last_event[:8]) > revision:
        problems.append(f"change log has events after the revision {revision}")
    return problems


def _check_address(
    p: res.Port, f: res.FixedIp, sn: res.Subnet | None, allocations: Table, taken: dict[str, dict[int, str]]
) -> list[str]:
    if sn is None or sn.vpc_id != p.vpc_id or sn.project_id != p.project_id:
        return [f"port {p.id}: fixed ip subnet {f.subnet_id} missing or in another vpc/project"]
    problems = []
    ip = int(ipaddress.IPv4Address(f.ip_address))
    cidr = ipaddress.IPv4Network(sn.cidr)
    first, last = int(cidr.network_address), int(cidr.broadcast_address)
    if not first < ip < last or f.ip_address == sn.gateway_ip:
        problems.append(f"port {p.id}: {f.ip_address} is not a usable address of {sn.cidr}")
    key = prefix(f.subnet_id) + u32(ip)
    if key in allocations:
        problems.append(f"{f.ip_address} in {f.subnet_id} allocated twice")
    in_pool = any(
        int(ipaddress.IPv4Address(r.start)) <= ip <= int(ipaddress.IPv4Address(r.end))
        for r in sn.allocation_pools
    )
    allocations[key] = (b"P" if in_pool else b"X") + p.id.encode()
    if in_pool:
        taken[sn.id][ip] = p.id
    return problems


def _free_table(pfx: bytes, width: int, ranges: Iterable[tuple[int, int]], used: Iterable[int]) -> Table:
    """The RangeSet table of `ranges` minus `used`, as maximal ranges."""
    free: list[tuple[int, int]] = []
    points = sorted(used)
    for first, last in sorted(ranges):
        start = first
        for n in points:
            if first <= n <= last:
                if start < n:
                    free.append((start, n - 1))
                start = n + 1
        if start <= last:
            free.append((start, last))
    merged: list[tuple[int, int]] = []
    for a, b in free:
        if merged and merged[-1][1] == a - 1:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return {pfx + b.to_bytes(width, "big"): a.to_bytes(width, "big") for a, b in merged}


def _records(s: Schema, txn: Any, kind: Kind[Any]) -> dict[str, Any]:
    return {k.decode(): kind.message.FromString(v) for k, v in txn.cursor(db=kind.db(s))}


def _table(txn: Any, db: Any) -> Table:
    return {bytes(k): bytes(v) for k, v in txn.cursor(db=db)}


def _last_key(txn: Any, db: Any) -> bytes | None:
    cur = txn.cursor(db=db)
    return bytes(cur.key()) if cur.last() else None


def _compare(name: str, actual: Table, expected: Table) -> list[str]:
    if actual == expected:
        return []
    missing = sorted(set(expected) - set(actual))[:3]
    extra = sorted(set(actual) - set(expected))[:3]
    wrong = sorted(k for k in set(actual) & set(expected) if actual[k] != expected[k])[:3]
    return [f"table {name}: missing {missing}, unexpected {extra}, different {wrong}"]
