"""EbpfDriver: the `Driver` that programs this host's kernel (tc BPF, VXLAN, workload veths).

Start-up (`EbpfDriver(config)`): compile dp.bpf.c (cached), load it with every map's pin path
set under `config.pin_dir`, so maps pinned by a previous agent are reused with their contents;
make sure the host's collect_md VXLAN device exists; swap the new programs in (tc replace at the
same prio) on the VXLAN device and on every workload veth found by its alias. Nothing is removed
or rewritten at start, so traffic keeps flowing; the reconciler then asks `installed()` and
executes `plan(desired, installed)`.

`execute` maps plan items onto map writes and wiring calls. A bulk endpoint item's packed keys
and values are already the map's bytes: they go to the kernel as they are, in batches of
`EbpfConfig.batch` entries (one syscall each), with no Python work per entry. Port ids are
translated to the host-side ifindex through the registry of wired ports; an installed entry
whose ifindex has no wired port is reported under the id "ifindex:<n>", which no desired state
contains, so the plan deletes it. `installed()` reads the endpoints map back as the model's
compact table (`model.Endpoints`), so a restarted agent compares bytes with bytes.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..driver import Report
from ..model import Config, Endpoint, Endpoints, LocalPort, State, bulk, pack_key, pack_remote
from ..packet import COUNTERS
from ..plan import (
    DeleteEndpoints,
    DeletePort,
    DeleteRule,
    Item,
    Plan,
    SetConfig,
    SetEndpoint,
    SetEndpoints,
    SetPort,
    SetRule,
    WirePort,
)
from ..rules import MAX_RANGES, Ranges, RuleKey
from ..workload import OVERLAY_MTU
from . import build, layout, wiring
from . import netlink as nl_mod
from .libbpf import BpfError, BpfObject, Map, num_possible_cpus
from .netlink import Netlink

ORPHAN = "ifindex:"
_ZERO_IP = b"\0\0\0\0"
_ZERO_MAC = b"\0" * 6
_REMOTE_TAIL = b"\0\0"  # flags (not local), pad


@dataclass(frozen=True)
class EbpfConfig:
    pin_dir: str = "/sys/fs/bpf/alcor"
    underlay_ip: str = ""  # the VXLAN source address; "" lets the kernel's routing choose
    host_netns: str | None = None  # the namespace the host side lives in; None: this process's
    vxlan_dev: str = "alcorvx0"
    vxlan_port: int = 4789
    ifname_prefix: str = "alc"  # host-side veth names: prefix + digest of the port id
    netns_prefix: str = "alcor-"  # namespaces created for ports without a device_id
    mtu: int = OVERLAY_MTU
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
                pid,
                vni,
                w.mac,
                w.addresses,
                w.gateway_ip,
                w.device_id,
                bool(flags & layout.PORT_SG),
                version,
                w.interface_name,
            )
        for ifindex, (vni, pmac, flags, version) in entries.items():  # entries of vanished veths
            pid = self._port_of(ifindex, by_ifindex)
            ports[pid] = LocalPort(
                pid, vni, layout.mac_str(pmac), (), "", "", bool(flags & layout.PORT_SG), version
            )
        endpoints = self._read_endpoints(by_ifindex)
        ip_str = layout.ip_str
        rules: dict[str, dict[RuleKey, Ranges]] = {}
        for k, v in self.maps["sg_rules"].items():
            plen, ifindex, direction, proto, _, remote = layout.RULE_KEY.unpack(k)
            count, *flat = layout.RULE_VALUE.unpack(v)
            ranges = tuple((flat[2 * i], flat[2 * i + 1]) for i in range(min(count, MAX_RANGES)))
            key = RuleKey(direction, proto, f"{ip_str(remote)}/{plen - layout.RULE_FIXED_BITS}")
            rules.setdefault(self._port_of(ifindex, by_ifindex), {})[key] = ranges
        return State(config=config, ports=ports, endpoints=endpoints, rules=rules)

    def _read_endpoints(self, by_ifindex: dict[int, str]) -> Endpoints:
        """The endpoints map in the model's compact form: a remote entry's bytes are its value
        (rewritten to the canonical form if anything else wrote it), a local one names its port."""
        ks, vs = layout.ENDPOINT_KEY.size, layout.ENDPOINT.size
        remote: dict[bytes, bytes] = {}
        for keys, values, n in self.maps["endpoints"].chunks(self.config.batch):
            remote.update(
                zip(
                    [keys[i : i + ks] for i in range(0, n * ks, ks)],
                    [values[i : i + vs] for i in range(0, n * vs, vs)],
                    strict=True,
                )
            )
        local: dict[bytes, Endpoint] = {}
        head, tail = _ZERO_IP, _REMOTE_TAIL
        for k in [k for k, v in remote.items() if not (v.startswith(head) and v.endswith(tail))]:
            ifindex, host_ip, mac, flags = layout.ENDPOINT.unpack(remote[k])
            if flags & layout.EP_LOCAL:
                local[k] = Endpoint(self._port_of(ifindex, by_ifindex), None, layout.mac_str(mac))
                del remote[k]
            else:
                remote[k] = layout.ENDPOINT.pack(0, host_ip, mac, 0)
        return Endpoints(local, remote)

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
        entries: dict[bytes, str] = {}
        for item in plan.items:
            if isinstance(item, SetEndpoints):
                reason = self._batched(item.keys, item.values, entries)
            elif isinstance(item, DeleteEndpoints):
                reason = self._batched(item.keys, None, entries)
            else:
                try:
                    reason = self._one(item)
                except (OSError, RuntimeError, ValueError) as e:
                    reason = f"{type(e).__name__}: {e}"
            if reason:
                failed[item] = reason
        return Report(plan, failed, entries)

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
            case SetEndpoint(key, ep):
                k = pack_key(key)
                if ep.local_port is None:
                    v = pack_remote(ep.host_ip or "", ep.mac)
                else:
                    wired = self._ports.get(ep.local_port)
                    if wired is None:
                        return f"port {ep.local_port} is not wired"
                    v = layout.ENDPOINT.pack(
                        wired.ifindex, _ZERO_IP, layout.mac_bytes(ep.mac), layout.EP_LOCAL
                    )
                try:
                    self.maps["endpoints"].update(k, v)
                except BpfError as e:
                    return _errno_reason(e.errno, "endpoints")
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

    def _batched(self, keys: bytes, values: bytes | None, entries: dict[bytes, str]) -> str | None:
        """Batch update (values given) or delete of packed entries; returns the first failing
        entry's reason and records each failing entry by key. The kernel stops at the first
        failing entry, which is recorded (a missing key on delete is success) before going on
        after it."""
        m = self.maps["endpoints"]
        ks, vs = layout.ENDPOINT_KEY.size, layout.ENDPOINT.size
        n, step = len(keys) // ks, self.config.batch
        first: str | None = None

        def fail(i: int, err: int | None) -> None:
            nonlocal first
            reason = entries[keys[i * ks : (i + 1) * ks]] = _errno_reason(err, "endpoints")
            first = first or reason

        start = 0
        while start < n:
            end = min(n, start + step)
            whole = start == 0 and end == n  # one chunk: the buffers as they are, no copy
            kbuf = keys if whole else keys[start * ks : end * ks]
            if values is not None:
                vbuf = values if whole else values[start * vs : end * vs]
                done, err = m.update_batch(kbuf, vbuf, end - start)
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
                            m.update(keys[i * ks : (i + 1) * ks], values[i * vs : (i + 1) * vs])
                        else:
                            m.delete(keys[i * ks : (i + 1) * ks])
                    except BpfError as e:
                        fail(i, e.errno)
                start = end
                continue
            if not (values is None and err == errno.ENOENT):
                fail(bad, err)
            start = bad + 1
        return first

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
