"""EbpfDriver: the `Driver` that programs this host's kernel (tc BPF, VXLAN, workload veths).

Start-up (`EbpfDriver(config)`): compile dp.bpf.c (cached), load it with every map's pin path
set under `config.pin_dir`, so maps pinned by a previous agent are reused with their contents;
make sure the host's collect_md VXLAN device exists; swap the new programs in (tc replace at the
same prio) on the VXLAN device and on every workload veth found by its alias. Nothing is removed
or rewritten at start, so traffic keeps flowing; the reconciler then asks `installed()` and
executes `plan(desired, installed)`.

`execute` maps plan items onto map writes (endpoints in batches: one syscall per chunk) and
wiring calls. Port ids are translated to the host-side ifindex through the registry of wired
ports; an installed entry whose ifindex has no wired port is reported under the id
"ifindex:<n>", which no desired state contains, so the plan deletes it.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from ..driver import Report
from ..model import Config, Endpoint, EndpointKey, LocalPort, State, bulk
from ..packet import COUNTERS
from ..plan import (
    DeleteEndpoint,
    DeletePort,
    DeleteRule,
    Item,
    Plan,
    SetConfig,
    SetEndpoint,
    SetPort,
    SetRule,
    WirePort,
)
from ..rules import MAX_RANGES, Ranges, RuleKey
from . import build, layout, wiring
from . import netlink as nl_mod
from .libbpf import BpfError, BpfObject, Map, num_possible_cpus
from .netlink import Netlink

ORPHAN = "ifindex:"
_ZERO_IP = b"\0\0\0\0"
_ZERO_MAC = b"\0" * 6


@dataclass(frozen=True)
class EbpfConfig:
    pin_dir: str = "/sys/fs/bpf/alcor"
    underlay_ip: str = ""  # the VXLAN source address; "" lets the kernel's routing choose
    host_netns: str | None = None  # the namespace the host side lives in; None: this process's
    vxlan_dev: str = "alcorvx0"
    vxlan_port: int = 4789
    ifname_prefix: str = "alc"  # host-side veth names: prefix + digest of the port id
    netns_prefix: str = "alcor-"  # namespaces created for ports without a device_id
    mtu: int = 1450
    cache_dir: Path = field(default=build.DEFAULT_CACHE)
    endpoints_max: int = 1 << 18
    ports_max: int = 4096
    rules_max: int = 65536
    conntrack_max: int = 65536
    batch: int = 65536  # map entries per batch syscall


def bpffs_mounted(path: str) -> bool:
    """Is `path` under a mounted bpffs?"""
    path = os.path.abspath(path)
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "bpf" and (path + "/").startswith(parts[1].rstrip("/") + "/"):
                return True
    return False


def _errno_reason(err: int | None, table: str) -> str:
    if err == errno.E2BIG:
        return f"{table} map full (E2BIG): raise its max_entries"
    return f"{table}: {os.strerror(err or errno.EIO)}"


class EbpfDriver:
    PROGRAMS = ("from_workload", "from_tunnel")

    def __init__(self, config: EbpfConfig) -> None:
        self.config = config
        if not bpffs_mounted(config.pin_dir):
            raise RuntimeError(f"{config.pin_dir} is not on a bpffs (mount -t bpf bpf /sys/fs/bpf)")
        os.makedirs(config.pin_dir, exist_ok=True)
        self.object_path = build.compile_object(Path(config.cache_dir))
        obj = BpfObject(str(self.object_path))
        try:
            layout.check_sizes(obj.sizes())
            for name, n in (
                ("endpoints", config.endpoints_max),
                ("ports", config.ports_max),
                ("sg_rules", config.rules_max),
                ("conntrack", config.conntrack_max),
            ):
                obj.set_max_entries(name, n)
            for name in obj.map_names():
                obj.set_pin_path(name, os.path.join(config.pin_dir, name))
            obj.load()
        except BaseException:
            obj.close()
            raise
        self._obj = obj
        self._cpus = num_possible_cpus()
        self.maps: dict[str, Map] = {
            name: obj.map(name, percpu=self._cpus if name == "stats" else 0) for name in layout.MAPS
        }
        self._prog = {name: obj.program_fd(name) for name in self.PROGRAMS}
        self.nl = Netlink()
        self._ports: dict[str, wiring.WiredPort] = {}
        try:
            self.vxlan_ifindex = self._ensure_vxlan()
            self._write_config(self._read_gateway_mac())
            for wired in wiring.scan(self.nl, config.host_netns):
                self._ports[wired.port_id] = wired
                # program upgrade: the new object's program replaces the old one in place
                nl_mod.attach(
                    self.nl(config.host_netns), wired.ifindex, self._prog["from_workload"], "from_workload"
                )
        except BaseException:
            self.close()
            raise

    # -- start-up ------------------------------------------------------------------------------

    def _ensure_vxlan(self) -> int:
        ipr = self.nl(self.config.host_netns)
        idx = nl_mod.link_index(ipr, self.config.vxlan_dev)
        if idx is None:
            extra = {"vxlan_local": self.config.underlay_ip} if self.config.underlay_ip else {}
            ipr.link(
                "add",
                ifname=self.config.vxlan_dev,
                kind="vxlan",
                vxlan_collect_metadata=1,
                vxlan_port=self.config.vxlan_port,
                vxlan_learning=0,
                **extra,
            )
            idx = nl_mod.link_index(ipr, self.config.vxlan_dev)
            assert idx is not None
        ipr.link("set", index=idx, state="up")
        nl_mod.attach(ipr, idx, self._prog["from_tunnel"], "from_tunnel")
        return idx

    def _read_gateway_mac(self) -> bytes:
        raw = self.maps["config"].lookup(layout.U32.pack(0))
        return layout.CONFIG.unpack(raw)[1] if raw else _ZERO_MAC

    def _write_config(self, gateway_mac: bytes) -> None:
        self.maps["config"].update(layout.U32.pack(0), layout.CONFIG.pack(self.vxlan_ifindex, gateway_mac))

    # -- Driver: read back ---------------------------------------------------------------------

    def _port_of(self, ifindex: int, by_ifindex: dict[int, str]) -> str:
        return by_ifindex.get(ifindex) or f"{ORPHAN}{ifindex}"

    @bulk
    def installed(self) -> State:
        by_ifindex = {w.ifindex: pid for pid, w in self._ports.items()}
        mac = self._read_gateway_mac()
        config = Config(layout.mac_str(mac)) if mac != _ZERO_MAC else None
        entries = {}
        for k, v in self.maps["ports"].items():
            (ifindex,) = layout.PORT_KEY.unpack(k)
            entries[ifindex] = layout.PORT.unpack(v)
        ports: dict[str, LocalPort] = {}
        for pid, w in self._ports.items():
            vni, pmac, flags, version = entries.pop(w.ifindex, (0, _ZERO_MAC, 0, 0))
            if layout.mac_str(pmac) != w.mac:
                vni = 0  # one LocalPort has one mac: show the entry as stale so the plan rewrites it
            ports[pid] = LocalPort(
                pid, vni, w.mac, w.addresses, w.gateway_ip, w.device_id, bool(flags & layout.PORT_SG), version
            )
        for ifindex, (vni, pmac, flags, version) in entries.items():  # entries of vanished veths
            pid = self._port_of(ifindex, by_ifindex)
            ports[pid] = LocalPort(
                pid, vni, layout.mac_str(pmac), (), "", "", bool(flags & layout.PORT_SG), version
            )
        endpoints: dict[EndpointKey, Endpoint] = {}
        unpack_key, unpack_ep = layout.ENDPOINT_KEY.unpack, layout.ENDPOINT.unpack
        ip_str, mac_str = layout.ip_str, layout.mac_str
        for k, v in self.maps["endpoints"].items(self.config.batch):
            vni, ip = unpack_key(k)
            ifindex, host_ip, emac, flags = unpack_ep(v)
            if flags & layout.EP_LOCAL:
                ep = Endpoint(self._port_of(ifindex, by_ifindex), None, mac_str(emac))
            else:
                ep = Endpoint(None, ip_str(host_ip), mac_str(emac))
            endpoints[EndpointKey(vni, ip_str(ip))] = ep
        rules: dict[str, dict[RuleKey, Ranges]] = {}
        for k, v in self.maps["sg_rules"].items():
            plen, ifindex, direction, proto, _, remote = layout.RULE_KEY.unpack(k)
            count, *flat = layout.RULE_VALUE.unpack(v)
            ranges = tuple((flat[2 * i], flat[2 * i + 1]) for i in range(min(count, MAX_RANGES)))
            key = RuleKey(direction, proto, f"{ip_str(remote)}/{plen - layout.RULE_FIXED_BITS}")
            rules.setdefault(self._port_of(ifindex, by_ifindex), {})[key] = ranges
        return State(config=config, ports=ports, endpoints=endpoints, rules=rules)

    def counters(self) -> dict[str, int]:
        out = {}
        stats = self.maps["stats"]
        for i, name in enumerate(COUNTERS):
            raw = stats.lookup(layout.U32.pack(i)) or b""
            out[name] = sum(layout.U64.unpack_from(raw, off)[0] for off in range(0, len(raw), 8))
        return out

    # -- Driver: execute -----------------------------------------------------------------------

    @bulk
    def execute(self, plan: Plan) -> Report:
        failed: dict[Item, str] = {}
        items = plan.items
        i, n = 0, len(items)
        while i < n:
            kind = type(items[i])
            j = i + 1
            if kind in (SetEndpoint, DeleteEndpoint):
                while j < n and type(items[j]) is kind:
                    j += 1
                run = items[i:j]
                if kind is SetEndpoint:
                    self._set_endpoints(run, failed)  # type: ignore[arg-type]
                else:
                    self._delete_endpoints(run, failed)  # type: ignore[arg-type]
            else:
                try:
                    reason = self._one(items[i])
                except (OSError, RuntimeError, ValueError) as e:
                    reason = f"{type(e).__name__}: {e}"
                if reason:
                    failed[items[i]] = reason
            i = j
        return Report(plan, failed)

    def _ifindex(self, port_id: str) -> int | None:
        wired = self._ports.get(port_id)
        if wired is not None:
            return wired.ifindex
        if port_id.startswith(ORPHAN):
            return int(port_id[len(ORPHAN) :])
        return None

    def _rule_key(self, ifindex: int, key: RuleKey) -> bytes:
        ip, plen = key.prefix.split("/")
        return layout.RULE_KEY.pack(
            layout.RULE_FIXED_BITS + int(plen), ifindex, key.direction, key.proto, 0, layout.ip_bytes(ip)
        )

    def _one(self, item: Item) -> str | None:
        match item:
            case SetConfig(config):
                self._write_config(layout.mac_bytes(config.gateway_mac))
            case WirePort(port):
                self._ports[port.port_id] = wiring.wire(
                    self.nl,
                    self.config.host_netns,
                    port,
                    ifname_prefix=self.config.ifname_prefix,
                    netns_prefix=self.config.netns_prefix,
                    mtu=self.config.mtu,
                    prog_fd=self._prog["from_workload"],
                )
            case SetRule(pid, key, ranges):
                ifindex = self._ifindex(pid)
                if ifindex is None:
                    return f"port {pid} is not wired"
                flat = [x for r in ranges[:MAX_RANGES] for x in r]
                flat += [0] * (2 * MAX_RANGES - len(flat))
                value = layout.RULE_VALUE.pack(min(len(ranges), MAX_RANGES), *flat)
                try:
                    self.maps["sg_rules"].update(self._rule_key(ifindex, key), value)
                except BpfError as e:
                    return _errno_reason(e.errno, "sg_rules")
            case SetPort(port):
                ifindex = self._ifindex(port.port_id)
                if ifindex is None:
                    return f"port {port.port_id} is not wired"
                flags = layout.PORT_SG if port.sg_enabled else 0
                value = layout.PORT.pack(port.vni, layout.mac_bytes(port.mac), flags, port.rules_version)
                try:
                    self.maps["ports"].update(layout.PORT_KEY.pack(ifindex), value)
                except BpfError as e:
                    return _errno_reason(e.errno, "ports")
            case DeleteRule(pid, key):
                ifindex = self._ifindex(pid)
                if ifindex is not None:
                    self.maps["sg_rules"].delete(self._rule_key(ifindex, key))
            case DeletePort(pid):
                ifindex = self._ifindex(pid)
                if ifindex is not None:
                    self.maps["ports"].delete(layout.PORT_KEY.pack(ifindex))
                wired = self._ports.pop(pid, None)
                if wired is not None:
                    wiring.unwire(self.nl, self.config.host_netns, wired)
            case _:
                return f"unknown plan item {item!r}"
        return None

    def _set_endpoints(self, run: tuple[SetEndpoint, ...], failed: dict[Item, str]) -> None:
        # the hot loop of a large VPC: tuple unpacking and bound methods, no per-entry helpers
        pack_key, pack_ep, mac_bytes = layout.ENDPOINT_KEY.pack, layout.ENDPOINT.pack, layout.mac_bytes
        pton, inet = socket.inet_pton, socket.AF_INET
        hosts: dict[str, bytes] = {}  # few hosts, many endpoints: convert each host ip once
        keys: list[bytes] = []
        values: list[bytes] = []
        good: list[SetEndpoint] = []
        add_key, add_value, add_good = keys.append, values.append, good.append
        for item in run:
            (vni, ip), (local_port, host_ip, mac) = item.key, item.endpoint
            try:
                k = pack_key(vni, pton(inet, ip))
                if local_port is None:
                    host = hosts.get(host_ip)  # type: ignore[arg-type]
                    if host is None:
                        host = hosts[host_ip] = pton(inet, host_ip)  # type: ignore[index,arg-type]
                    v = pack_ep(0, host, mac_bytes(mac), 0)
                else:
                    wired = self._ports.get(local_port)
                    if wired is None:
                        failed[item] = f"port {local_port} is not wired"
                        continue
                    v = pack_ep(wired.ifindex, _ZERO_IP, mac_bytes(mac), layout.EP_LOCAL)
            except (OSError, ValueError, TypeError) as e:
                failed[item] = f"bad endpoint: {e}"
                continue
            add_key(k)
            add_value(v)
            add_good(item)
        self._batched(good, keys, values, failed)

    def _batched(
        self, items: list, keys: list[bytes], values: list[bytes] | None, failed: dict[Item, str]
    ) -> None:
        """Batch update (values given) or delete; the kernel stops at the first failing entry,
        which is recorded (a missing key on delete is success) before going on after it."""
        m = self.maps["endpoints"]
        start, n = 0, len(items)
        while start < n:
            end = min(n, start + self.config.batch)
            kbuf = b"".join(keys[start:end])
            if values is not None:
                done, err = m.update_batch(kbuf, b"".join(values[start:end]), end - start)
            else:
                done, err = m.delete_batch(kbuf, end - start)
            if err == 0:
                start = end
                continue
            bad = start + done
            if bad >= end:  # error reported without a failing entry: retry this chunk one by one
                for i in range(start, end):
                    try:
                        if values is not None:
                            m.update(keys[i], values[i])
                        else:
                            m.delete(keys[i])
                    except BpfError as e:
                        failed[items[i]] = _errno_reason(e.errno, "endpoints")
                start = end
                continue
            if not (values is None and err == errno.ENOENT):
                failed[items[bad]] = _errno_reason(err, "endpoints")
            start = bad + 1

    def _delete_endpoints(self, run: tuple[DeleteEndpoint, ...], failed: dict[Item, str]) -> None:
        keys = []
        good = []
        for item in run:
            try:
                keys.append(layout.ENDPOINT_KEY.pack(item.key.vni, layout.ip_bytes(item.key.ip)))
            except (OSError, ValueError) as e:
                failed[item] = f"bad endpoint key: {e}"
                continue
            good.append(item)
        self._batched(good, keys, None, failed)

    # -- lifetime ------------------------------------------------------------------------------

    def wired(self, port_id: str) -> wiring.WiredPort | None:
        """Where a port is wired (namespace, host-side device), or None."""
        return self._ports.get(port_id)

    def close(self) -> None:
        """Release handles; programs stay attached and maps stay pinned, so traffic flows on."""
        if getattr(self, "nl", None) is not None:
            self.nl.close()
        if getattr(self, "_obj", None) is not None:
            self._obj.close()
            self._obj = None  # type: ignore[assignment]

    def destroy(self) -> None:
        """Remove everything this driver programmed: workload wiring (and namespaces it created),
        the VXLAN device, the pinned maps. For tests and uninstall; not part of `Driver`."""
        host_ns = self.config.host_netns
        for wired in list(self._ports.values()):
            wiring.unwire(self.nl, host_ns, wired)
        self._ports.clear()
        ipr = self.nl(host_ns)
        idx = nl_mod.link_index(ipr, self.config.vxlan_dev)
        if idx is not None:
            ipr.link("del", index=idx)
        self.close()
        shutil.rmtree(self.config.pin_dir, ignore_errors=True)
