"""Workload wiring, as a CNI plugin would do it for a container.

A port bound to this host gets a network namespace (the one its device_id names, or one created
for it), a veth pair whose workload end is the port's interface (`eth0` unless it names one) in
that namespace with the port's MAC, IPs and MTU 1450 (VXLAN needs 50 bytes of the 1500
underlay), and a default route to its subnet's gateway. IPv6 is disabled on both ends so that
workloads do not send ND/MLD into an IPv4-only data plane. The host end carries an interface
alias with the port id, the namespace, the interface and whether we created the namespace: that
is how a restarted agent finds its ports again (`scan`).

A device id that is a path (`/run/netns/NAME`, `/proc/PID/ns/net`) is a namespace a container
runtime made: it is used, never created, and left in place when the port goes.
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import dataclass

from pyroute2.netlink.exceptions import NetlinkError

from ..model import Address, LocalPort
from ..workload import WORKLOAD_IFNAME
from . import netlink as nl_mod
from .netlink import Netlink

ALIAS_PREFIX = "alcor:"


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
    interface_name: str = WORKLOAD_IFNAME  # the workload end, inside netns


def host_ifname(prefix: str, port_id: str) -> str:
    """A stable host-side name within IFNAMSIZ (15): the prefix and a digest of the port id."""
    room = 15 - len(prefix)
    if room < 8:
        raise ValueError(f"interface prefix {prefix!r} leaves fewer than 8 characters for the digest")
    return prefix + hashlib.sha1(port_id.encode()).hexdigest()[:room]


def netns_for(netns_prefix: str, port: LocalPort) -> str:
    return port.device_id or f"{netns_prefix}{port.port_id}"


def external(netns: str) -> bool:
    """A namespace named by path belongs to whoever made it (a container runtime)."""
    return "/" in netns


def _alias(port_id: str, netns: str, owned: bool, device_id: str, ifname: str) -> str:
    meta = {"port": port_id, "netns": netns, "owned": owned, "device": device_id}
    if ifname != WORKLOAD_IFNAME:  # (aliases written before interfaces were named stay valid)
        meta["if"] = ifname
    return ALIAS_PREFIX + json.dumps(meta, separators=(",", ":"))


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


def _workload_state(
    nl: Netlink, netns: str, ifname: str
) -> tuple[int | None, str, tuple[Address, ...], str]:
    """(interface index, mac, IPv4 addresses, default gateway) inside the workload namespace."""
    ipr = nl(netns)
    idx = nl_mod.link_index(ipr, ifname)
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
        if (
            meta is None
            or meta["netns"] != ns
            or meta["port"] != port.port_id
            or meta.get("if", WORKLOAD_IFNAME) != port.interface_name
        ):
            unwire_link(nl, host_ns, idx, meta)  # someone else's leftovers, or a namespace move
            idx, meta = None, None
    if idx is None:
        owned = not nl_mod.netns_exists(ns)
        if owned and external(ns):
            raise RuntimeError(f"network namespace {ns} does not exist")
        if owned:
            nl_mod.create_netns(ns)
        nl.forget(ns)  # a handle from before the namespace was (re)created is stale
        try:
            host.link(
                "add",
                ifname=ifname,
                kind="veth",
                mtu=mtu,
                peer={"ifname": port.interface_name, "net_ns_fd": ns, "address": port.mac, "mtu": mtu},
            )
            idx = nl_mod.link_index(host, ifname)
            assert idx is not None
            host.link(
                "set", index=idx, ifalias=_alias(port.port_id, ns, owned, port.device_id, port.interface_name)
            )
            # both ends are still down: IPv4-only data plane, keep ND/MLD noise out of it
            _no_ipv6(host_ns, ifname)
            _no_ipv6(ns, port.interface_name)
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
    w_idx, mac, addresses, gateway = _workload_state(nl, ns, port.interface_name)
    if w_idx is None:
        raise RuntimeError(f"{port.interface_name} missing in namespace {ns}")
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
    return WiredPort(
        port.port_id, idx, ifname, ns, owned, port.device_id, port.mac, want, port.gateway_ip, port.interface_name
    )


def unwire_link(nl: Netlink, host_ns: str | None, ifindex: int, meta: dict | None) -> None:
    """Delete a host-side veth (its peer goes with it) and the namespace if we created it."""
    try:
        nl(host_ns).link("del", index=ifindex)
    except NetlinkError as e:
        if e.code != 19:  # ENODEV: already gone
            raise
    if meta:
        # a handle holds its namespace open: a runtime's namespace must be free to go
        nl.forget(meta["netns"])
        if meta.get("owned"):
            nl_mod.remove_netns(meta["netns"])


def unwire(nl: Netlink, host_ns: str | None, wired: WiredPort) -> None:
    unwire_link(nl, host_ns, wired.ifindex, {"netns": wired.netns, "owned": wired.owned})


def workload_interface(netns: str, ifname: str) -> tuple[str, tuple[Address, ...]] | None:
    """(mac, IPv4 addresses) of an interface inside a namespace, or None when the namespace or
    the interface is not there. For callers outside the agent (CNI CHECK): one short-lived
    handle."""
    if not nl_mod.netns_exists(netns):
        return None
    nl = Netlink()
    try:
        idx, mac, addresses, _ = _workload_state(nl, netns, ifname)
    finally:
        nl.close()
    return None if idx is None else (mac, addresses)


def scan(nl: Netlink, host_ns: str | None) -> list[WiredPort]:
    """Every workload veth in the host namespace that carries our alias, with its workload side."""
    found = []
    for link in nl(host_ns).get_links():
        meta = _parse_alias(link.get_attr("IFLA_IFALIAS"))
        if meta is None:
            continue
        ns = meta["netns"]
        ifname = meta.get("if", WORKLOAD_IFNAME)
        if nl_mod.netns_exists(ns):
            _, mac, addresses, gateway = _workload_state(nl, ns, ifname)
        else:
            nl.forget(ns)
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
                ifname,
            )
        )
    return found
