"""Workload wiring, as a CNI plugin would do it for a container.

A port bound to this host gets a network namespace (the one its device_id names, or one created
for it), a veth pair whose workload end is `eth0` in that namespace with the port's MAC, IPs
and MTU 1450 (VXLAN needs 50 bytes of the 1500 underlay), and a default route to its subnet's
gateway. IPv6 is disabled in namespaces we create so that workloads do not send ND/MLD into an
IPv4-only data plane. The host end carries an interface alias with the port id, the namespace
and whether we created it: that is how a restarted agent finds its ports again (`scan`).
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import dataclass

from pyroute2.netlink.exceptions import NetlinkError

from ..model import Address, LocalPort
from . import netlink as nl_mod
from .netlink import Netlink

ALIAS_PREFIX = "alcor:"
WORKLOAD_IFNAME = "eth0"


@dataclass(frozen=True)
class WiredPort:
    port_id: str
    ifindex: int  # host side, in the host namespace
    ifname: str
    netns: str
    owned: bool  # we created the namespace: it goes when the port goes
    device_id: str
    mac: str
    addresses: tuple[Address, ...]
    gateway_ip: str


def host_ifname(prefix: str, port_id: str) -> str:
    """A stable host-side name within IFNAMSIZ (15): the prefix and a digest of the port id."""
    room = 15 - len(prefix)
    if room < 8:
        raise ValueError(f"interface prefix {prefix!r} leaves fewer than 8 characters for the digest")
    return prefix + hashlib.sha1(port_id.encode()).hexdigest()[:room]


def netns_for(netns_prefix: str, port: LocalPort) -> str:
    return port.device_id or f"{netns_prefix}{port.port_id}"


def _alias(port_id: str, netns: str, owned: bool, device_id: str) -> str:
    return ALIAS_PREFIX + json.dumps(
        {"port": port_id, "netns": netns, "owned": owned, "device": device_id}, separators=(",", ":")
    )


def _parse_alias(alias: str | None) -> dict | None:
    if not alias or not alias.startswith(ALIAS_PREFIX):
        return None
    try:
        meta = json.loads(alias[len(ALIAS_PREFIX) :])
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and "port" in meta and "netns" in meta else None


def _no_ipv6(netns: str | None, ifname: str) -> None:
    """Disable IPv6 on a device that is still down, so it never sends RS/ND/MLD."""

    def write() -> None:
        nl_mod.write_sysctl(f"net.ipv6.conf.{ifname}.disable_ipv6", "1")

    if netns is None:
        write()
    else:
        nl_mod.run_in_netns(netns, write)


def _workload_state(nl: Netlink, netns: str) -> tuple[int | None, str, tuple[Address, ...], str]:
    """(eth0 index, mac, IPv4 addresses, default gateway) inside the workload namespace."""
    ipr = nl(netns)
    idx = nl_mod.link_index(ipr, WORKLOAD_IFNAME)
    if idx is None:
        return None, "", (), ""
    link = ipr.get_links(idx)[0]
    mac = link.get_attr("IFLA_ADDRESS") or ""
    addresses = tuple(
        sorted(
            Address(a.get_attr("IFA_ADDRESS"), a["prefixlen"])
            for a in ipr.get_addr(index=idx, family=socket.AF_INET)
        )
    )
    gateway = ""
    for r in ipr.get_routes(family=socket.AF_INET, table=254):
        if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY"):
            gateway = r.get_attr("RTA_GATEWAY")
            break
    return idx, mac, addresses, gateway


def wire(
    nl: Netlink,
    host_ns: str | None,
    port: LocalPort,
    *,
    ifname_prefix: str,
    netns_prefix: str,
    mtu: int,
    prog_fd: int,
) -> WiredPort:
    """Create the port's wiring or bring it to `port.wiring` (idempotent), and attach the
    workload program (`from_workload`) to the host end. Returns what is now wired."""
    host = nl(host_ns)
    ifname = host_ifname(ifname_prefix, port.port_id)
    ns = netns_for(netns_prefix, port)
    idx = nl_mod.link_index(host, ifname)
    meta = None
    if idx is not None:
        meta = _parse_alias(host.get_links(idx)[0].get_attr("IFLA_IFALIAS"))
        if meta is None or meta["netns"] != ns or meta["port"] != port.port_id:
            unwire_link(nl, host_ns, idx, meta)  # someone else's leftovers, or a namespace move
            idx, meta = None, None
    if idx is None:
        owned = not nl_mod.netns_exists(ns)
        if owned:
            nl_mod.create_netns(ns)
        nl.forget(ns)  # a handle from before the namespace was (re)created is stale
        try:
            host.link(
                "add",
                ifname=ifname,
                kind="veth",
                mtu=mtu,
                peer={"ifname": WORKLOAD_IFNAME, "net_ns_fd": ns, "address": port.mac, "mtu": mtu},
            )
            idx = nl_mod.link_index(host, ifname)
            assert idx is not None
            host.link("set", index=idx, ifalias=_alias(port.port_id, ns, owned, port.device_id))
            # both ends are still down: IPv4-only data plane, keep ND/MLD noise out of it
            _no_ipv6(host_ns, ifname)
            _no_ipv6(ns, WORKLOAD_IFNAME)
        except BaseException:
            leftover = nl_mod.link_index(host, ifname)
            if leftover is not None:
                host.link("del", index=leftover)
            if owned:
                nl.forget(ns)
                nl_mod.remove_netns(ns)
            raise
    else:
        assert meta is not None
        owned = bool(meta.get("owned"))
    host.link("set", index=idx, state="up", mtu=mtu)
    nl_mod.attach(host, idx, prog_fd, "from_workload")

    ipr = nl(ns)
    w_idx, mac, addresses, gateway = _workload_state(nl, ns)
    if w_idx is None:
        raise RuntimeError(f"{WORKLOAD_IFNAME} missing in namespace {ns}")
    if mac != port.mac:
        ipr.link("set", index=w_idx, address=port.mac)
    want = tuple(sorted(port.addresses))
    for a in addresses:
        if a not in want:
            ipr.addr("del", index=w_idx, address=a.ip, prefixlen=a.prefixlen)
    for a in want:
        if a not in addresses:
            ipr.addr("add", index=w_idx, address=a.ip, prefixlen=a.prefixlen)
    ipr.link("set", index=w_idx, state="up", mtu=mtu)
    lo = nl_mod.link_index(ipr, "lo")
    if lo is not None:
        ipr.link("set", index=lo, state="up")
    if port.gateway_ip and gateway != port.gateway_ip:
        ipr.route("replace", dst="0.0.0.0/0", gateway=port.gateway_ip, oif=w_idx)
    elif not port.gateway_ip and gateway:
        ipr.route("del", dst="0.0.0.0/0")
    return WiredPort(port.port_id, idx, ifname, ns, owned, port.device_id, port.mac, want, port.gateway_ip)


def unwire_link(nl: Netlink, host_ns: str | None, ifindex: int, meta: dict | None) -> None:
    """Delete a host-side veth (its peer goes with it) and the namespace if we created it."""
    try:
        nl(host_ns).link("del", index=ifindex)
    except NetlinkError as e:
        if e.code != 19:  # ENODEV: already gone
            raise
    if meta and meta.get("owned"):
        nl.forget(meta["netns"])
        nl_mod.remove_netns(meta["netns"])


def unwire(nl: Netlink, host_ns: str | None, wired: WiredPort) -> None:
    unwire_link(nl, host_ns, wired.ifindex, {"netns": wired.netns, "owned": wired.owned})


def scan(nl: Netlink, host_ns: str | None) -> list[WiredPort]:
    """Every workload veth in the host namespace that carries our alias, with its workload side."""
    found = []
    for link in nl(host_ns).get_links():
        meta = _parse_alias(link.get_attr("IFLA_IFALIAS"))
        if meta is None:
            continue
        ns = meta["netns"]
        if nl_mod.netns_exists(ns):
            _, mac, addresses, gateway = _workload_state(nl, ns)
        else:
            mac, addresses, gateway = "", (), ""
        found.append(
            WiredPort(
                meta["port"],
                link["index"],
                link.get_attr("IFLA_IFNAME"),
                ns,
                bool(meta.get("owned")),
                meta.get("device", ""),
                mac,
                addresses,
                gateway,
            )
        )
    return found
