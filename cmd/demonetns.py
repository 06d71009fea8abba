"""The demo's hosts on the eBPF data plane: network namespaces on a bridged underlay.

    root namespace                 alcordemo-ul (bridge br0)          alcordemo-host-a
    controllers on 10.99.0.254 --- ctl ... host-a ------------------- ul0 10.99.0.1, agent (ebpf)
                                           host-b ------------------- alcordemo-host-b ...

Each host namespace runs `alcor agent run --dataplane ebpf` (entered with nsenter); the agent wires every port bound to
its host into the workload namespace its device id names, so a ping is a real `ping` inside that
namespace. `close()` stops the agents and removes every namespace, link and pinned map it made.
This is lab set-up driven through `ip` (the kernel libraries stay in agent/dataplane/).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from alcor.v1 import resources_pb2 as res

from .demohosts import Counts

PREFIX = "alcordemo-"
UNDERLAY_NS = f"{PREFIX}ul"
CONTROLLER_IP = "10.99.0.254"
ROOT_LINK = f"{PREFIX}ctl"  # root side of the controllers' link to the underlay bridge
PIN_ROOT = "/sys/fs/bpf"


def ip(*args: str, ns: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")
    return done


def parse_ping(text: str) -> tuple[int, int]:
    for line in text.splitlines():
        if "packets transmitted" in line:
            sent, received = line.split(",")[:2]
            return int(sent.split()[0]), int(received.split()[0])
    return 0, 0


class NamespaceHosts:
    mode = "eBPF"
    kernel = True
    controller_address = CONTROLLER_IP

    def __init__(self) -> None:
        self.hosts: dict[str, str] = {}
        self._controllers: list[str] = []
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = Path(tempfile.mkdtemp(prefix="alcor-demo-agents-"))
        self._remove_leftovers()
        self._underlay()

    @staticmethod
    def device_id(name: str) -> str:
        # the agent wires a port into the namespace its device id names: keep them ours
        return f"{PREFIX}{name}"

    def _underlay(self) -> None:
        ip("netns", "add", UNDERLAY_NS)
        ip("link", "add", "br0", "type", "bridge", ns=UNDERLAY_NS)
        ip("link", "set", "br0", "up", ns=UNDERLAY_NS)
        ip("link", "add", ROOT_LINK, "type", "veth", "peer", "name", "ctl", "netns", UNDERLAY_NS)
        ip("link", "set", "ctl", "master", "br0", "up", ns=UNDERLAY_NS)
        ip("addr", "add", f"{CONTROLLER_IP}/24", "dev", ROOT_LINK)
        ip("link", "set", ROOT_LINK, "up")

    def start(self, controllers: list[str], hosts: Mapping[str, str]) -> None:
        for host_id, underlay in hosts.items():
            ns = f"{PREFIX}{host_id}"
            ip("netns", "add", ns)
            ip("link", "add", host_id, "type", "veth", "peer", "name", "ul0", "netns", ns, ns=UNDERLAY_NS)
            ip("link", "set", host_id, "master", "br0", "up", ns=UNDERLAY_NS)
            ip("addr", "add", f"{underlay}/24", "dev", "ul0", ns=ns)
            ip("link", "set", "ul0", "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)
            self.hosts[host_id] = underlay
            self._controllers = list(controllers)
            self._launch(host_id)

    def _launch(self, host_id: str) -> None:
        ns = f"{PREFIX}{host_id}"
        log = open(self.logs / f"{host_id}.log", "ab")  # noqa: SIM115 - owned by the child
        self.agents[host_id] = subprocess.Popen(
            # nsenter joins only the network namespace: unlike `ip netns exec` it keeps this
            # mount namespace, so bpffs stays visible and the workload namespaces the agent
            # creates are visible to everyone
            ["nsenter", f"--net=/var/run/netns/{ns}", sys.executable, "-m", "alcor.cmd.main", "agent", "run",
             "--host-id", host_id, "--controllers", ",".join(self._controllers), "--dataplane", "ebpf",
             "--underlay-ip", self.hosts[host_id], "--bpf-pin-dir", f"{PIN_ROOT}/{ns}", "--log-level", "warning"],
            stdout=log, stderr=log)

    def host_netns(self, host_id: str) -> str:
        return f"{PREFIX}{host_id}"

    def restart_agent(self, host_id: str) -> None:
        """kill -9 the host's agent and start it again (its pinned maps keep the traffic)."""
        proc = self.agents[host_id]
        proc.kill()
        proc.wait(10)
        self._launch(host_id)

    def ping(self, port: res.Port, dst_ip: str, count: int = 3) -> int:
        out = subprocess.run(["ip", "netns", "exec", port.device_id, "ping", "-n", "-c", str(count), "-i", "0.1",
                              "-W", "1", dst_ip], capture_output=True, text=True, timeout=count + 10)
        return parse_ping(out.stdout)[1]

    @contextmanager
    def continuous_ping(self, port: res.Port, dst_ip: str) -> Iterator[Counts]:
        proc = subprocess.Popen(["ip", "netns", "exec", port.device_id, "ping", "-n", "-i", "0.02", "-W", "1",
                                 dst_ip], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result: list[tuple[int, int]] = []
        try:
            yield lambda: result[0] if result else (0, 0)
        finally:
            proc.send_signal(signal.SIGINT)  # ping prints its statistics on SIGINT
            out, _ = proc.communicate(timeout=10)
            result.append(parse_ping(out))

    def close(self) -> None:
        for proc in self.agents.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.agents.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.agents.clear()
        self._remove_leftovers()
        shutil.rmtree(self.logs, ignore_errors=True)

    @staticmethod
    def _remove_leftovers() -> None:
        """Every namespace, link and pin directory with the demo's prefix (also a crashed run's)."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
        names = [line.split()[0] for line in listed if line.startswith(PREFIX)]
        # workload namespaces first, then hosts, the underlay last (it holds the bridge)
        for name in sorted(names, key=lambda n: (n == UNDERLAY_NS, n)):
            ip("netns", "del", name, check=False)
        ip("link", "del", ROOT_LINK, check=False)
        for entry in os.listdir(PIN_ROOT) if os.path.isdir(PIN_ROOT) else ():
            if entry.startswith(PREFIX):
                shutil.rmtree(os.path.join(PIN_ROOT, entry), ignore_errors=True)
