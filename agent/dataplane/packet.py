"""What the data plane does with one packet, as a pure function of its tables (mirrors dp.bpf.c).

`from_workload` is the program on a workload veth, `from_tunnel` the one on the VXLAN device.
Both read a `model.State` (what is installed) and a conntrack mapping, and return a `Decision`:
delivered to a local port, sent through the tunnel to a host, answered (ARP), or dropped with the
counter that names the reason, plus the conntrack entries to write. The in-memory driver runs
packets through these; tests use them to check outcomes. The order of checks and the counter
names are the BPF program's, so both drivers answer "why was this dropped" the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from .model import EndpointKey, LocalPort, State
from .rules import EGRESS, INGRESS, lookup

ICMP, TCP, UDP = 1, 6, 17

# the order of `enum stat` in dp.bpf.c
COUNTERS = (
    "rx_workload",
    "rx_tunnel",
    "tx_local",
    "tx_tunnel",
    "arp_reply",
    "drop_no_port",  # from an interface with no port entry (not wired yet, or being removed)
    "drop_spoof_mac",  # source MAC is not the port's
    "drop_spoof_ip",  # source IP is not one of the port's addresses
    "drop_no_route",  # no endpoint for (VNI, destination): another VPC or an unknown address
    "drop_sg_egress",
    "drop_sg_ingress",
    "drop_tunnel_src",  # the outer source host does not own the inner source address
    "drop_not_ipv4",  # IPv6 and other ethertypes
    "drop_malformed",
    "drop_ttl",
    "drop_arp",  # ARP that needs no answer (replies, gratuitous, probes)
    "drop_no_config",
    "drop_fragment",  # non-first IP fragments carry no ports to filter on
)

CT_EGRESS, CT_INGRESS = 1, 2


@dataclass(frozen=True)
class Packet:
    """An Ethernet frame reduced to what the data plane reads. `ethertype` "arp" is a request
    from src_ip for dst_ip; ICMP echo uses its id as both ports."""

    src_mac: str
    src_ip: str
    dst_ip: str
    proto: int = ICMP
    sport: int = 0
    dport: int = 0
    ethertype: str = "ipv4"  # "ipv4", "arp", "ipv6"
    dst_mac: str = "ff:ff:ff:ff:ff:ff"
    ttl: int = 64
    fragment: bool = False  # a non-first fragment

    @classmethod
    def tcp(cls, src_mac: str, src_ip: str, dst_ip: str, dport: int, sport: int = 40000) -> Packet:
        return cls(src_mac, src_ip, dst_ip, TCP, sport, dport)

    @classmethod
    def udp(cls, src_mac: str, src_ip: str, dst_ip: str, dport: int, sport: int = 40000) -> Packet:
        return cls(src_mac, src_ip, dst_ip, UDP, sport, dport)

    @classmethod
    def ping(cls, src_mac: str, src_ip: str, dst_ip: str, ident: int = 1) -> Packet:
        return cls(src_mac, src_ip, dst_ip, ICMP, ident, ident)

    @classmethod
    def arp(cls, src_mac: str, src_ip: str, target_ip: str) -> Packet:
        return cls(src_mac, src_ip, target_ip, 0, ethertype="arp")

    def reply(self, src_mac: str) -> Packet:
        """The answer a workload sends back (addresses and ports swapped)."""
        return replace(
            self,
            src_mac=src_mac,
            src_ip=self.dst_ip,
            dst_ip=self.src_ip,
            sport=self.dport,
            dport=self.sport,
            dst_mac="",
            ttl=64,
        )


class CtKey(NamedTuple):
    vni: int
    src: str
    dst: str
    sport: int
    dport: int
    proto: int


class CtValue(NamedTuple):
    egress_version: int
    ingress_version: int
    flags: int


@dataclass(frozen=True)
class Decision:
    action: str  # "deliver", "tunnel", "arp_reply", "drop"
    reason: str  # the counter that counts the outcome, one of COUNTERS
    port_id: str | None = None  # deliver: the local port
    host_ip: str | None = None  # tunnel: the remote host's underlay IP
    vni: int | None = None
    packet: Packet | None = None  # the frame as it leaves (MACs rewritten, TTL decremented)
    ct: tuple[tuple[CtKey, CtValue], ...] = ()  # conntrack writes

    @property
    def delivered(self) -> bool:
        return self.action == "deliver"


def _drop(reason: str, ct: tuple = ()) -> Decision:
    return Decision("drop", reason, ct=ct)


def _sg_pass(
    state: State, ct: Mapping[CtKey, CtValue], vni: int, pkt: Packet, direction: int, port: LocalPort
) -> tuple[bool, tuple[tuple[CtKey, CtValue], ...]]:
    """One side of the stateful check (see sg_pass in dp.bpf.c)."""
    if not port.sg_enabled:
        return True, ()
    mine, theirs = (CT_EGRESS, CT_INGRESS) if direction == EGRESS else (CT_INGRESS, CT_EGRESS)
    fwd = CtKey(vni, pkt.src_ip, pkt.dst_ip, pkt.sport, pkt.dport, pkt.proto)
    rev = CtKey(vni, pkt.dst_ip, pkt.src_ip, pkt.dport, pkt.sport, pkt.proto)
    version = port.rules_version
    entry = ct.get(fwd)
    if (
        entry
        and entry.flags & mine
        and (entry.egress_version if direction == EGRESS else entry.ingress_version) == version
    ):
        return True, ()
    entry = ct.get(rev)
    if (
        entry
        and entry.flags & theirs
        and (entry.ingress_version if direction == EGRESS else entry.egress_version) == version
    ):
        return True, ()
    remote = pkt.dst_ip if direction == EGRESS else pkt.src_ip
    if not lookup(state.rules.get(port.port_id, {}), direction, pkt.proto, remote, pkt.dport):
        return False, ()
    old = ct.get(fwd) or CtValue(0, 0, 0)
    if direction == EGRESS:
        new = CtValue(version, old.ingress_version, old.flags | mine)
    else:
        new = CtValue(old.egress_version, version, old.flags | mine)
    return True, ((fwd, new),)


def _deliver(
    state: State, ct: Mapping[CtKey, CtValue], vni: int, pkt: Packet, port_id: str, writes: tuple
) -> Decision:
    port = state.ports.get(port_id)
    if port is None:
        return _drop("drop_no_route", writes)
    ok, more = _sg_pass(state, {**ct, **dict(writes)} if writes else ct, vni, pkt, INGRESS, port)
    if not ok:
        return _drop("drop_sg_ingress", writes)
    assert state.config is not None
    out = replace(pkt, src_mac=state.config.gateway_mac, dst_mac=port.mac)
    return Decision("deliver", "tx_local", port_id=port_id, vni=vni, packet=out, ct=_merge(writes, more))


def _merge(a: tuple, b: tuple) -> tuple:
    merged = dict(a)
    merged.update(b)
    return tuple(merged.items())


def from_workload(state: State, ct: Mapping[CtKey, CtValue], port_id: str, pkt: Packet) -> Decision:
    """A frame sent by the workload of `port_id` (arriving on its veth's host side)."""
    cfg = state.config
    if cfg is None:
        return _drop("drop_no_config")
    port = state.ports.get(port_id)
    if port is None:
        return _drop("drop_no_port")
    if pkt.src_mac != port.mac:
        return _drop("drop_spoof_mac")
    if pkt.ethertype == "arp":
        if pkt.src_ip == pkt.dst_ip or pkt.src_ip == "0.0.0.0":
            return _drop("drop_arp")
        src = state.endpoints.get(EndpointKey(port.vni, pkt.src_ip))
        if src is None or src.local_port != port_id:
            return _drop("drop_spoof_ip")
        answer = Packet(cfg.gateway_mac, pkt.dst_ip, pkt.src_ip, 0, ethertype="arp", dst_mac=pkt.src_mac)
        return Decision("arp_reply", "arp_reply", port_id=port_id, vni=port.vni, packet=answer)
    if pkt.ethertype != "ipv4":
        return _drop("drop_not_ipv4")
    if pkt.fragment:
        return _drop("drop_fragment")
    src = state.endpoints.get(EndpointKey(port.vni, pkt.src_ip))
    if src is None or src.local_port != port_id:
        return _drop("drop_spoof_ip")
    dst = state.endpoints.get(EndpointKey(port.vni, pkt.dst_ip))
    if dst is None:
        return _drop("drop_no_route")
    if pkt.ttl <= 1:
        return _drop("drop_ttl")
    ok, writes = _sg_pass(state, ct, port.vni, pkt, EGRESS, port)
    if not ok:
        return _drop("drop_sg_egress")
    pkt = replace(pkt, ttl=pkt.ttl - 1)
    if dst.local_port is not None:
        return _deliver(state, ct, port.vni, pkt, dst.local_port, writes)
    out = replace(pkt, src_mac=cfg.gateway_mac, dst_mac=dst.mac)
    return Decision("tunnel", "tx_tunnel", host_ip=dst.host_ip, vni=port.vni, packet=out, ct=writes)


def from_tunnel(state: State, ct: Mapping[CtKey, CtValue], vni: int, outer_src: str, pkt: Packet) -> Decision:
    """A frame decapsulated by the host's VXLAN device (VNI and outer source from the tunnel key)."""
    if state.config is None:
        return _drop("drop_no_config")
    if pkt.ethertype != "ipv4":
        return _drop("drop_not_ipv4")
    if pkt.fragment:
        return _drop("drop_fragment")
    src = state.endpoints.get(EndpointKey(vni, pkt.src_ip))
    if src is None or src.local_port is not None or src.host_ip != outer_src:
        return _drop("drop_tunnel_src")
    dst = state.endpoints.get(EndpointKey(vni, pkt.dst_ip))
    if dst is None or dst.local_port is None:
        return _drop("drop_no_route")
    return _deliver(state, ct, vni, pkt, dst.local_port, ())
