"""Root fixtures for the data-plane system tests: hosts are network namespaces on a bridged
underlay, workloads are the namespaces the eBPF driver wires for their ports.

Every test gets a `Topology` with a unique name prefix; its finalizer stops the driver helper
processes it started, closes drivers, deletes every namespace with the prefix (host namespaces
take their veths, VXLAN devices and tc programs with them) and the per-test bpffs pin
directories. Tests skip with the reason when not root, or when clang or BPF are unavailable.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BPFFS = "/sys/fs/bpf"
HELPER = Path(__file__).with_name("driver_helper.py")


def _bpffs_ready() -> bool:
    from alcor.agent.dataplane.ebpf.driver import bpffs_mounted

    if bpffs_mounted(BPFFS):
        return True
    return subprocess.run(["mount", "-t", "bpf", "bpf", BPFFS], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def bpf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled object's cache for this session; skips everything if BPF cannot work here."""
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, tc and BPF")
    if shutil.which("clang") is None:
        pytest.skip("needs clang to compile the BPF programs")
    if shutil.which("ip") is None or shutil.which("ping") is None:
        pytest.skip("needs iproute2 and iputils-ping")
    if not _bpffs_ready():
        pytest.skip(f"no bpffs at {BPFFS} and mounting one failed")
    from alcor.agent.dataplane.ebpf import build
    from alcor.agent.dataplane.ebpf.libbpf import BpfError, BpfObject

    cache = tmp_path_factory.mktemp("bpf-cache")
    try:
        obj = BpfObject(str(build.compile_object(cache)))
        try:
            obj.load()  # unpinned: proves the kernel accepts the programs
        finally:
            obj.close()
    except (build.BuildError, BpfError, OSError) as e:
        pytest.skip(f"BPF programs cannot be loaded here: {e}")
    return cache


def run(*cmd: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


def in_ns(ns: str, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return run("ip", "netns", "exec", ns, *cmd, timeout=timeout)


@dataclass
class PingResult:
    sent: int
    received: int
    output: str

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.received == self.sent

    @property
    def none(self) -> bool:
        return self.received == 0


def parse_ping(out: str) -> PingResult:
    for line in out.splitlines():
        if "packets transmitted" in line:
            parts = line.split(",")
            return PingResult(int(parts[0].split()[0]), int(parts[1].split()[0]), out)
    return PingResult(0, 0, out)


def ping(ns: str, dst: str, count: int = 3, interval: float = 0.1, source: str = "") -> PingResult:
    args = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1"]
    if source:
        args += ["-I", source]
    return parse_ping(in_ns(ns, *args, dst, timeout=count * interval + 10).stdout)


class TcpServer:
    """Listeners inside a workload namespace that answer every connection with b"ok"."""

    def __init__(self, ns: str, ip: str, ports: list[int]) -> None:
        from alcor.agent.dataplane.ebpf.netlink import run_in_netns

        # sockets belong to the namespace they were created in, whichever thread uses them later
        self.socks = [run_in_netns(ns, lambda p=p: socket.create_server((ip, p))) for p in ports]
        self._stop = False
        self.threads = [threading.Thread(target=self._serve, args=(s,), daemon=True) for s in self.socks]
        for t in self.threads:
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"ok")

    def close(self) -> None:
        self._stop = True
        for t in self.threads:
            t.join()
        for s in self.socks:
            s.close()


def tcp_connect(ns: str, ip: str, port: int, timeout: float) -> bool:
    """A real TCP connection from inside `ns`: True if it connected and got the server's b"ok"."""
    from alcor.agent.dataplane.ebpf.netlink import run_in_netns

    def attempt() -> bool:
        try:
            with socket.create_connection((ip, port), timeout=timeout) as s:
                return s.recv(2) == b"ok"
        except OSError:
            return False

    return run_in_netns(ns, attempt)


@dataclass
class Topology:
    prefix: str
    cache: Path
    hosts: dict[str, str] = field(default_factory=dict)  # host id -> underlay ip
    drivers: dict = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    servers: list[TcpServer] = field(default_factory=list)

    @property
    def underlay_ns(self) -> str:
        return f"{self.prefix}ul"

    def host_ns(self, host_id: str) -> str:
        return f"{self.prefix}{host_id}"

    def add_host(self, host_id: str) -> str:
        from pyroute2 import IPRoute, netns

        if not self.hosts:
            netns.create(self.underlay_ns)
            with IPRoute(netns=self.underlay_ns, flags=0) as ul:
                ul.link("add", ifname="br0", kind="bridge")
                ul.link("set", index=ul.link_lookup(ifname="br0")[0], state="up")
        ip = f"10.250.0.{len(self.hosts) + 1}"
        ns = self.host_ns(host_id)
        netns.create(ns)
        with IPRoute(netns=self.underlay_ns, flags=0) as ul:
            ul.link("add", ifname=host_id, kind="veth", peer={"ifname": "ul0", "net_ns_fd": ns})
            idx = ul.link_lookup(ifname=host_id)[0]
            ul.link("set", index=idx, master=ul.link_lookup(ifname="br0")[0], state="up")
        with IPRoute(netns=ns, flags=0) as h:
            idx = h.link_lookup(ifname="ul0")[0]
            h.addr("add", index=idx, address=ip, prefixlen=24)
            h.link("set", index=idx, state="up")
            h.link("set", index=h.link_lookup(ifname="lo")[0], state="up")
        self.hosts[host_id] = ip
        return ip

    def config(self, host_id: str, **overrides):
        from alcor.agent.dataplane.ebpf.driver import EbpfConfig

        settings = dict(
            pin_dir=f"{BPFFS}/{self.prefix}{host_id}",
            underlay_ip=self.hosts[host_id],
            host_netns=self.host_ns(host_id),
            netns_prefix=f"{self.prefix}{host_id}-",
            cache_dir=self.cache,
            endpoints_max=8192,
            ports_max=256,
            rules_max=4096,
            conntrack_max=8192,
        )
        settings.update(overrides)
        return EbpfConfig(**settings)

    def driver(self, host_id: str, **overrides):
        from alcor.agent.dataplane.ebpf.driver import EbpfDriver

        old = self.drivers.pop(host_id, None)
        if old is not None:
            old.close()
        d = self.drivers[host_id] = EbpfDriver(self.config(host_id, **overrides))
        return d

    def sync(self, sc, *host_ids: str) -> None:
        """Reconcile the named hosts (all by default) to the scenario, in-process."""
        from alcor.agent.dataplane.model import desired
        from alcor.agent.dataplane.plan import plan

        for host_id in host_ids or sc.hosts:
            d = self.drivers.get(host_id) or self.driver(host_id)
            report = d.execute(plan(desired(sc.goal(host_id)), d.installed()))
            assert report.ok, dict(report.failed)

    def ns_of(self, port) -> str:
        """The workload namespace of a port (the driver names it from the prefix and port id)."""
        return port.device_id or f"{self.prefix}{port.host_id}-{port.id}"

    def serve(self, port, ports: list[int]) -> TcpServer:
        server = TcpServer(self.ns_of(port), port.fixed_ips[0].ip_address, ports)
        self.servers.append(server)
        return server

    def start_helper(self, host_id: str, goal_update: bytes, tmp: Path) -> tuple[subprocess.Popen, dict]:
        """Run the driver in its own process (as the agent would); returns it once it reports
        that it has reconciled, with its report."""
        cfg = self.config(host_id)
        goal_file = tmp / f"{host_id}-{uuid.uuid4().hex[:6]}.goal"
        goal_file.write_bytes(goal_update)
        spec = {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()}
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HELPER),
                "--host-id",
                host_id,
                "--goal",
                str(goal_file),
                "--config",
                json.dumps(spec),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"driver helper died: {proc.stderr.read()}")
        return proc, json.loads(line)

    # helpers bound to the fixture: test modules cannot import conftest under importlib mode
    ping = staticmethod(ping)
    in_ns = staticmethod(in_ns)
    connect = staticmethod(tcp_connect)
    parse_ping = staticmethod(parse_ping)

    def cleanup(self) -> None:
        for server in self.servers:
            server.close()
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f:
                    f.close()
        for d in self.drivers.values():
            d.close()
        from pyroute2 import netns

        # workload namespaces first: their names carry the prefix too
        for name in sorted(netns.listnetns(), key=lambda n: n == self.underlay_ns):
            if name.startswith(self.prefix):
                netns.remove(name)
        for entry in os.listdir(BPFFS):
            if entry.startswith(self.prefix):
                shutil.rmtree(os.path.join(BPFFS, entry), ignore_errors=True)


@pytest.fixture
def topo(bpf_cache: Path):
    t = Topology(prefix=f"adp{uuid.uuid4().hex[:5]}-", cache=bpf_cache)
    try:
        yield t
    finally:
        t.cleanup()
        from pyroute2 import netns

        left = [n for n in netns.listnetns() if n.startswith(t.prefix)]
        left += [e for e in os.listdir(BPFFS) if e.startswith(t.prefix)]
        assert not left, f"test left behind {left}"
