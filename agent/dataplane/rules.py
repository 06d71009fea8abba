"""Security-group rules compiled into the form the data plane looks up (pure).

A port's groups become a table keyed by `RuleKey(direction, proto, prefix)` whose value is the
set of allowed destination-port ranges. The data plane does a longest-prefix match on the remote
address per (port, direction, proto) and then a scan of the ranges, so the compiled value of a
prefix already holds the ranges of every broader prefix of the same (direction, proto): the
rules that match an address are exactly those whose prefix contains the longest matching one.
Rules for any protocol live under proto 0 and are looked up second. `allows()` is the naive
reading of the rules that the compiled form must agree with; tests check one against the other.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from alcor.v1 import goalstate_pb2, resources_pb2

INGRESS = resources_pb2.DIRECTION_INGRESS
EGRESS = resources_pb2.DIRECTION_EGRESS
PROTO_ANY = resources_pb2.PROTOCOL_ANY
PORTED_PROTOS = (resources_pb2.PROTOCOL_TCP, resources_pb2.PROTOCOL_UDP)
# the BPF rule value holds at most this many ranges (MAX_RANGES in dp.bpf.c)
MAX_RANGES = 16

Ranges = tuple[tuple[int, int], ...]
ALL_PORTS: Ranges = ((0, 65535),)


class RuleKey(NamedTuple):
    direction: int  # INGRESS: remote is the source; EGRESS: remote is the destination
    proto: int  # IP protocol number, 0 for any
    prefix: str  # canonical IPv4 network, e.g. "10.0.0.0/24"


class Rule(NamedTuple):
    """One security-group rule reduced to what the data plane enforces."""

    direction: int
    proto: int
    prefix: str
    ranges: Ranges


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, disjoint, non-adjacent ranges covering the same ports."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _port_ranges(rule: resources_pb2.SecurityGroupRule) -> Ranges | str:
    if rule.protocol not in PORTED_PROTOS:
        return ALL_PORTS  # ports mean nothing for ICMP or any-protocol rules
    lo, hi = rule.port_range_min, rule.port_range_max
    if lo == 0 and hi == 0:
        return ALL_PORTS
    hi = hi or lo
    if not (0 <= lo <= hi <= 65535):
        return f"rule {rule.id}: bad port range {rule.port_range_min}-{rule.port_range_max}"
    return ((lo, hi),)


def expand(
    rule: resources_pb2.SecurityGroupRule, members: Mapping[str, goalstate_pb2.GroupMembers]
) -> tuple[list[Rule], str | None]:
    """The IPv4 rules one API rule stands for (a remote group becomes one /32 per member), and a
    problem when the rule cannot be enforced as written."""
    if rule.ethertype == resources_pb2.ETHERTYPE_IPV6 or rule.protocol == resources_pb2.PROTOCOL_ICMPV6:
        return [], None  # the data plane is IPv4 only: such a rule never matches a packet
    if rule.direction not in (INGRESS, EGRESS):
        return [], f"rule {rule.id}: no direction"
    ranges = _port_ranges(rule)
    if isinstance(ranges, str):
        return [], ranges
    if rule.remote_ip_prefix and rule.remote_group_id:
        return [], f"rule {rule.id}: both remote_ip_prefix and remote_group_id"
    if rule.remote_group_id:
        group = members.get(rule.remote_group_id)
        if group is None:
            return [], f"rule {rule.id}: members of group {rule.remote_group_id} unknown"
        prefixes = [f"{ip}/32" for ip in group.ip_addresses if ":" not in ip]
    elif rule.remote_ip_prefix:
        try:
            net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        except ValueError:
            return [], f"rule {rule.id}: bad remote_ip_prefix {rule.remote_ip_prefix!r}"
        if net.version != 4:
            return [], None
        prefixes = [str(net)]
    else:
        prefixes = ["0.0.0.0/0"]
    return [Rule(rule.direction, int(rule.protocol), p, ranges) for p in prefixes], None


def _net(prefix: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(prefix)
    return int(net.network_address), net.prefixlen


def _supernets(addr: int, plen: int) -> Iterable[tuple[int, int]]:
    for p in range(plen, -1, -1):
        mask = (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF
        yield addr & mask, p


def compile_rules(rules: Iterable[Rule]) -> tuple[dict[RuleKey, Ranges], list[str]]:
    """The LPM table for a set of rules (see the module docstring), and problems: an entry that
    would need more than MAX_RANGES ranges keeps the first ones (it under-allows, never over)."""
    by_class: dict[tuple[int, int], dict[tuple[int, int], list[tuple[int, int]]]] = {}
    for r in rules:
        by_class.setdefault((r.direction, r.proto), {}).setdefault(_net(r.prefix), []).extend(r.ranges)
    table: dict[RuleKey, Ranges] = {}
    problems: list[str] = []
    for (direction, proto), nets in by_class.items():
        for addr, plen in nets:
            collected: list[tuple[int, int]] = []
            for sup in _supernets(addr, plen):
                collected.extend(nets.get(sup, ()))
            ranges = merge(collected)
            prefix = f"{ipaddress.IPv4Address(addr)}/{plen}"
            if len(ranges) > MAX_RANGES:
                problems.append(
                    f"{len(ranges)} port ranges for {prefix} (proto {proto}) exceed {MAX_RANGES}: "
                    "the rest are not enforced"
                )
                ranges = ranges[:MAX_RANGES]
            table[RuleKey(direction, proto, prefix)] = ranges
    return table, problems


def rules_version(table: Mapping[RuleKey, Ranges]) -> int:
    """A fingerprint of a compiled table; conntrack entries made under another one are re-checked."""
    text = repr(sorted(table.items()))
    return zlib.crc32(text.encode()) or 1


def lookup(table: Mapping[RuleKey, Ranges], direction: int, proto: int, remote: str, port: int) -> bool:
    """What the BPF lookup answers: longest-prefix match for (direction, proto), then for proto 0."""
    addr = int(ipaddress.IPv4Address(remote))
    for p in (proto, PROTO_ANY):
        for sup, plen in _supernets(addr, 32):
            ranges = table.get(RuleKey(direction, p, f"{ipaddress.IPv4Address(sup)}/{plen}"))
            if ranges is not None:
                if any(lo <= port <= hi for lo, hi in ranges):
                    return True
                break
    return False


def allows(rules: Iterable[Rule], direction: int, proto: int, remote: str, port: int) -> bool:
    """The plain meaning of a rule list: does any rule match this packet?"""
    addr = ipaddress.IPv4Address(remote)
    return any(
        r.direction == direction
        and r.proto in (proto, PROTO_ANY)
        and addr in ipaddress.IPv4Network(r.prefix)
        and any(lo <= port <= hi for lo, hi in r.ranges)
        for r in rules
    )
