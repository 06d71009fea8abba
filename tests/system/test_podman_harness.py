"""The podman test helper against a real podman, with the stock CNI bridge + host-local plugins
in a host network namespace of the test's own; a plugin from a caller's directory proves that
the plugin directories are configurable and that plugin failures surface."""

from __future__ import annotations

import ipaddress
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.podman import Podman, podman_unavailable

pytestmark = [pytest.mark.root, pytest.mark.slow]

SUBNET = ipaddress.ip_network("10.91.0.0/24")
BRIDGE = "alcorbr0"


@dataclass
class Lab:
    pm: Podman
    ns: str
    ipam_dir: Path
    plugin_dir: Path

    def bridge_network(self, name: str = "net1") -> str:
        self.pm.write_conflist(
            name,
            {
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": False,
                        "ipMasq": False,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": str(SUBNET)}]],
                            "dataDir": str(self.ipam_dir),
                        },
                    }
                ]
            },
        )
        return name

    def leased(self) -> set[str]:
        """The addresses host-local holds for the network (one file named by each address)."""
        net = self.ipam_dir / "net1"
        return {p.name for p in net.iterdir() if p.name[0].isdigit()} if net.exists() else set()


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    reason = podman_unavailable(cni_plugins=("bridge", "host-local"))
    if reason:
        pytest.skip(reason)
    ns = f"apm{uuid.uuid4().hex[:8]}"
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    pm: Podman | None = None
    try:
        _ip("-n", ns, "link", "set", "lo", "up")
        pm = Podman(tmp_path / "podman", ns, plugin_dirs=[plugin_dir])
        yield Lab(pm, ns, tmp_path / "ipam", plugin_dir)
    finally:
        sandboxes = set(pm.sandboxes) if pm is not None else set()
        if pm is not None:
            pm.close()
        _ip("netns", "del", ns)  # the bridge inside goes with it
        left = set(_ip("netns", "list").stdout.split()) & ({ns} | {Path(s).name for s in sandboxes})
        assert not left, f"left namespaces behind: {left}"
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if str(tmp_path) in line.split()[4]]
        assert not mounts, f"left mounts behind: {mounts}"


def test_bridge_containers_ping_reload_and_rm(lab: Lab) -> None:
    pm = lab.pm
    net = lab.bridge_network()
    pm.run("a", net)
    pm.run("b", net)

    ips = {name: pm.ip(name) for name in ("a", "b")}
    for name, ip in ips.items():
        assert ipaddress.ip_address(ip) in SUBNET, (name, ip)
        assert pm.addresses(name) == [f"{ip}/{SUBNET.prefixlen}"]
        assert pm.inspect(name)["NetworkSettings"]["Networks"][net]["IPAddress"] == ip
    assert ips["a"] != ips["b"]
    assert lab.leased() == set(ips.values())
    # the plugins ran in the caller's namespace, not the one the test runs in
    assert _ip("-n", lab.ns, "link", "show", BRIDGE).returncode == 0
    assert _ip("link", "show", BRIDGE).returncode != 0

    assert pm.ping("a", ips["b"])
    assert pm.ping("b", ips["a"])

    mac = pm.mac("a")
    pm.network_reload("a")
    assert (pm.ip("a"), pm.mac("a")) == (ips["a"], mac)
    assert pm.ping("a", ips["b"])

    # a long-running command that a signal reaches: ping prints its summary on SIGINT
    pinger = pm.popen_exec("a", "ping", "-i", "0.05", ips["b"])
    time.sleep(0.5)
    pinger.send_signal(signal.SIGINT)
    out, _ = pinger.communicate(timeout=10)
    summary = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    assert summary and int(summary.group(1)) >= 3 and summary.group(1) == summary.group(2), out

    # what a plugin is called with, for calling one by hand
    netns = pm.netns_path("b")
    assert Path(netns).name in _ip("netns", "list").stdout
    link = subprocess.run(
        ["nsenter", f"--net={netns}", "ip", "-o", "link", "show", "eth0"], capture_output=True, text=True
    )
    assert pm.mac("b") in link.stdout
    assert re.fullmatch(r"[0-9a-f]{64}", pm.container_id("b"))
    assert pm.conflist(net)["plugins"][0]["type"] == "bridge"

    pm.rm("b")
    assert not Path(netns).exists()
    assert pm.podman("container", "exists", "b").returncode == 1
    assert lab.leased() == {ips["a"]}
    assert not pm.ping("a", ips["b"], wait=1)


def test_pinned_ip_and_mac_are_honoured(lab: Lab) -> None:
    pm = lab.pm
    net = lab.bridge_network()
    ip, mac = str(SUBNET[50]), "02:00:0a:5b:00:32"
    pm.run("pinned", net, ip=ip, mac=mac)
    assert (pm.ip("pinned"), pm.mac("pinned")) == (ip, mac)
    pm.network_reload("pinned")
    assert (pm.ip("pinned"), pm.mac("pinned")) == (ip, mac)


def test_plugin_from_callers_dir_and_its_failure(lab: Lab) -> None:
    """A plugin found only in the caller's directory runs (it records CNI_ARGS), and its
    error fails `podman run` with exit 126 naming the plugin."""
    seen = lab.plugin_dir / "seen"
    plugin = lab.plugin_dir / "alcor-fail"
    plugin.write_text(
        "#!/bin/sh\n"
        f'echo "$CNI_COMMAND $CNI_ARGS" >> {seen}\n'
        'case "$CNI_COMMAND" in\n'
        # podman drops a network whose plugins do not answer VERSION
        'VERSION) echo \'{"cniVersion": "0.4.0", "supportedVersions": ["0.3.1", "0.4.0"]}\'; exit 0;;\n'
        "DEL) exit 0;;\n"
        "esac\n"
        'echo \'{"cniVersion": "0.4.0", "code": 100, "msg": "refused by test"}\'\n'
        "exit 1\n"
    )
    plugin.chmod(0o755)
    lab.pm.write_conflist("failing", {"plugins": [{"type": "alcor-fail"}]})

    proc = lab.pm.run("f", "failing", ip=str(SUBNET[7]), mac="02:00:00:00:00:07", check=False)
    assert proc.returncode == 126, proc.stderr
    assert 'plugin type="alcor-fail" failed (add)' in proc.stderr
    assert "refused by test" in proc.stderr
    add = next(line for line in seen.read_text().splitlines() if line.startswith("ADD "))
    assert f"IP={SUBNET[7]}" in add and "MAC=02:00:00:00:00:07" in add
