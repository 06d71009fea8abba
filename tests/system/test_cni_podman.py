"""Containers on Alcor VPCs through a real runtime: podman (CNI backend) execs `alcor-cni` on two
hosts. Hosts are network namespaces on an underlay bridge, each with `alcor agent run
--dataplane ebpf`; a 3-member controller cluster listens on the underlay. Root, BPF and podman.

Checked: containers get their port's IP and MAC, ping across hosts over VXLAN, are isolated from
another VPC with the same addresses and filtered by their security groups; `podman network
reload` keeps IP and MAC, `podman rm` deletes the port; an agent killed and restarted loses no
ping; a container and a port made through the SDK share one VPC; a refused ADD leaves nothing;
CHECK passes on a wired container and fails once its MAC is changed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.controller import wait_connected
from support.podman import Podman, podman_unavailable

from alcor.cmd.demonetns import NamespaceHosts
from alcor.cmd.localcluster import LocalCluster
from alcor.sdk import Client
from alcor.v1 import resources_pb2 as res

pytestmark = [pytest.mark.root, pytest.mark.slow]

PLUGIN = Path(sys.executable).with_name("alcor-cni")
HOSTS = {"h1": "10.99.0.1", "h2": "10.99.0.2"}


@dataclass
class Lab:
    hosts: NamespaceHosts
    client: Client
    podman: dict[str, Podman]
    root: Path
    blue: res.Subnet
    red: res.Subnet

    def port_of(self, host: str, name: str) -> res.Port:
        cid = self.podman[host].container_id(name)
        [port] = self.client.list_ports(container_id=cid)
        return port

    def ping(self, host: str, name: str, ip: str, count: int = 2) -> int:
        out = self.podman[host].exec(name, "ping", "-c", str(count), "-W", "1", ip)
        m = re.search(r"(\d+) packets received", out.stdout)
        return int(m.group(1)) if m else 0


def _addr_and_mac(podman: Podman, name: str) -> tuple[str, str]:
    out = podman.exec(name, "ip", "-o", "-4", "addr", "show", "eth0").stdout
    ip = re.search(r"inet (\S+)", out)
    link = podman.exec(name, "cat", "/sys/class/net/eth0/address").stdout.strip()
    assert ip, out
    return ip.group(1), link


@pytest.fixture(scope="module")
def lab(bpf_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    reason = podman_unavailable()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("cni-podman")
    hosts = NamespaceHosts()
    cluster = LocalCluster(root / "cluster", size=3, host=hosts.controller_address)
    podmen: dict[str, Podman] = {}
    client = None
    try:
        cluster.start()
        hosts.start(cluster.endpoints, HOSTS)
        client = Client(cluster.endpoints)
        blue_vpc = client.create_vpc(name="blue", cidr="10.50.0.0/16")
        red_vpc = client.create_vpc(name="red", cidr="10.50.0.0/16")
        blue = client.create_subnet(
            vpc_id=blue_vpc.id, cidr="10.50.1.0/24", name="blue-a", dns_nameservers=["10.50.1.53"]
        )
        red = client.create_subnet(vpc_id=red_vpc.id, cidr="10.50.1.0/24", name="red-a")
        locked = client.create_security_group(name="locked")  # egress only: nothing gets in
        wait_connected(client, list(HOSTS))
        for host in HOSTS:
            podman = Podman(root / f"podman-{host}", hosts.host_netns(host), [str(PLUGIN.parent)])
            podmen[host] = podman
            for network, vpc, subnet, groups in [
                ("blue", "blue", "blue-a", []),
                ("red", "red", "red-a", []),
                ("locked", "blue", "blue-a", [locked.id]),
            ]:
                conf = _conflist(network, vpc, subnet, host, cluster.endpoints, groups)
                podman.write_conflist(network, conf)
        yield Lab(hosts, client, podmen, root, blue, red)
    finally:
        for podman in podmen.values():
            podman.close()
        if client is not None:
            client.close()
        hosts.close()
        cluster.stop()


def _conflist(
    network: str, vpc: str, subnet: str, host: str, endpoints: list[str], groups: list[str]
) -> dict:
    args = ["alcor", "cni", "conflist", "--name", network, "--vpc", vpc, "--subnet", subnet, "--host-id", host,
            "--endpoints", ",".join(endpoints), "--timeout-seconds", "20"]  # fmt: skip
    for g in groups:
        args += ["--sg", g]
    out = subprocess.run(
        [sys.executable, "-m", "alcor.cmd.main", *args[1:]], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_containers_on_two_hosts_get_their_ports_and_ping_over_vxlan(lab: Lab) -> None:
    lab.podman["h1"].run("a1", "blue")
    lab.podman["h2"].run("b1", "blue")
    for host, name in (("h1", "a1"), ("h2", "b1")):
        port = lab.port_of(host, name)
        assert port.status == res.PORT_STATUS_ACTIVE and port.host_id == host
        assert port.container.pod_name == name  # podman names the container in K8S_POD_NAME
        assert _addr_and_mac(lab.podman[host], name) == (
            f"{port.fixed_ips[0].ip_address}/24",
            port.mac_address,
        )
    b1 = lab.port_of("h2", "b1").fixed_ips[0].ip_address
    assert lab.ping("h1", "a1", b1) == 2


def test_another_vpc_with_the_same_addresses_is_unreachable(lab: Lab) -> None:
    a1 = lab.port_of("h1", "a1")
    b1 = lab.port_of("h2", "b1").fixed_ips[0].ip_address
    # r2 in red takes a1's own address; it cannot reach blue's b1 at b1's address
    lab.podman["h2"].run("r2", "red", ip=a1.fixed_ips[0].ip_address)
    assert lab.port_of("h2", "r2").vpc_id != a1.vpc_id
    assert lab.ping("h2", "r2", b1) == 0
    assert lab.ping("h1", "a1", b1) == 2


def test_security_groups_filter_containers(lab: Lab) -> None:
    lab.podman["h2"].run("l2", "locked")
    l2 = lab.port_of("h2", "l2")
    [locked] = lab.client.list_security_groups(name="locked")
    assert list(l2.security_group_ids) == [locked.id]
    assert lab.ping("h1", "a1", l2.fixed_ips[0].ip_address) == 0


def test_a_container_and_an_sdk_port_share_a_vpc(lab: Lab) -> None:
    plain = lab.client.create_port(
        subnet_id=lab.blue.id, host_id="h1", device_id=lab.hosts.device_id("plain")
    )
    progress = lab.client.wait_for_hosts(plain.revision, timeout=20)
    assert progress.complete
    b1 = lab.port_of("h2", "b1")
    assert lab.hosts.ping(plain, b1.fixed_ips[0].ip_address) == 3
    assert lab.ping("h2", "b1", plain.fixed_ips[0].ip_address) == 2
    lab.client.delete_port(plain.id)


def test_agent_restart_loses_no_ping(lab: Lab) -> None:
    b1 = lab.port_of("h2", "b1").fixed_ips[0].ip_address
    pinger = lab.podman["h1"].popen_exec("a1", "ping", "-i", "0.05", "-W", "1", b1)
    try:
        time.sleep(1)
        lab.hosts.restart_agent("h1")
        wait_connected(lab.client, ["h1"])
        time.sleep(2)
    finally:
        pinger.send_signal(2)
        out, _ = pinger.communicate(timeout=10)
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    assert m, out
    sent, received = int(m.group(1)), int(m.group(2))
    assert sent >= 40 and received == sent, out


def test_check_passes_on_a_wired_container_and_fails_once_it_changes(lab: Lab) -> None:
    podman = lab.podman["h1"]
    cid, netns = podman.container_id("a1"), podman.netns_path("a1")
    conf = {**podman.conflist("blue")["plugins"][0], "name": "blue", "cniVersion": "1.0.0"}

    def check() -> tuple[int, str]:
        done = subprocess.run(
            ["nsenter", f"--net=/run/netns/{lab.hosts.host_netns('h1')}", str(PLUGIN)],
            input=json.dumps(conf), text=True, capture_output=True, timeout=30,
            env={"CNI_COMMAND": "CHECK", "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
                 "CNI_PATH": str(PLUGIN.parent), "PATH": "/usr/sbin:/usr/bin:/bin"},
        )  # fmt: skip
        return done.returncode, done.stdout

    assert check() == (0, "")
    port = lab.port_of("h1", "a1")
    subprocess.run(
        ["nsenter", f"--net={netns}", "ip", "link", "set", "eth0", "address", "02:de:ad:00:00:01"], check=True
    )
    try:
        code, out = check()
        assert code == 1 and json.loads(out)["code"] == 102 and port.mac_address in out
    finally:
        subprocess.run(
            ["nsenter", f"--net={netns}", "ip", "link", "set", "eth0", "address", port.mac_address],
            check=True,
        )
    assert check() == (0, "")


def test_network_reload_keeps_ip_and_mac(lab: Lab) -> None:
    before = lab.port_of("h1", "a1")
    got = _addr_and_mac(lab.podman["h1"], "a1")
    lab.podman["h1"].network_reload("a1")
    after = lab.port_of("h1", "a1")
    assert after.id != before.id  # DEL then ADD: a new port with the same address and MAC
    assert (after.fixed_ips[0].ip_address, after.mac_address) == (
        before.fixed_ips[0].ip_address,
        before.mac_address,
    )
    assert after.status == res.PORT_STATUS_ACTIVE
    assert _addr_and_mac(lab.podman["h1"], "a1") == got
    assert lab.ping("h1", "a1", lab.port_of("h2", "b1").fixed_ips[0].ip_address) == 2


def test_a_refused_add_leaves_nothing_behind(lab: Lab) -> None:
    podman = lab.podman["h1"]
    netns_before = set(_netns())
    links_before = _links(lab.hosts.host_netns("h1"))
    done = podman.run("bad", "blue", ip="10.77.0.5", check=False)
    assert done.returncode != 0
    assert "alcor-cni" in done.stderr and "10.77.0.5" in done.stderr
    assert not [p for p in lab.client.list_ports(vpc_id=lab.blue.vpc_id) if p.container.pod_name == "bad"]
    assert set(_netns()) == netns_before
    assert _links(lab.hosts.host_netns("h1")) == links_before


def test_podman_rm_deletes_the_port_and_its_veth(lab: Lab) -> None:
    port = lab.port_of("h1", "a1")
    links = _links(lab.hosts.host_netns("h1"))
    lab.podman["h1"].rm("a1")
    assert list(lab.client.list_ports(container_id=port.container.container_id)) == []
    assert len(_links(lab.hosts.host_netns("h1"))) == len(links) - 1


def _netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _links(ns: str) -> list[str]:
    out = subprocess.run(["ip", "-n", ns, "-o", "link"], capture_output=True, text=True).stdout
    return sorted(line.split(":")[1].strip() for line in out.splitlines())


def test_a_proc_pid_namespace_path_is_wired_and_left_to_its_owner(lab: Lab) -> None:
    # a runtime may name the namespace by a process's /proc/PID/ns/net (CNI_NETNS)
    host_ns = lab.hosts.host_netns("h1")
    owner = subprocess.Popen(["nsenter", f"--net=/run/netns/{host_ns}", "unshare", "--net", "sleep", "120"])
    try:
        pid = _sleeping(owner.pid)
        netns = f"/proc/{pid}/ns/net"
        conf = {**lab.podman["h1"].conflist("blue")["plugins"][0], "name": "blue", "cniVersion": "1.0.0"}
        env = {"CNI_CONTAINERID": "proc-ns-1", "CNI_NETNS": netns, "CNI_IFNAME": "net0",
               "CNI_PATH": str(PLUGIN.parent), "PATH": "/usr/sbin:/usr/bin:/bin"}  # fmt: skip

        def plugin(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["nsenter", f"--net=/run/netns/{host_ns}", str(PLUGIN)],
                input=json.dumps(conf), text=True, capture_output=True, timeout=60,
                env={**env, "CNI_COMMAND": command},
            )  # fmt: skip

        added = plugin("ADD")
        assert added.returncode == 0, added.stdout
        result = json.loads(added.stdout)
        assert result["interfaces"][0] == {
            "name": "net0", "mac": result["interfaces"][0]["mac"], "sandbox": netns, "mtu": 1450,
        }  # fmt: skip
        inside = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "-4", "addr", "show", "net0"],
                                capture_output=True, text=True).stdout  # fmt: skip
        assert result["ips"][0]["address"] in inside
        assert plugin("CHECK").returncode == 0
        assert plugin("DEL").returncode == 0
        assert list(lab.client.list_ports(container_id="proc-ns-1")) == []
        gone = subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "show", "net0"], capture_output=True)
        assert gone.returncode != 0  # unwired; the namespace itself is its owner's
        assert owner.poll() is None
    finally:
        owner.kill()
        owner.wait()


def _sleeping(pid: int) -> int:
    """`pid` once it is `sleep` in its own namespace (nsenter and unshare exec in place)."""
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}/comm").read_text().strip() != "sleep":
        assert time.monotonic() < deadline, "unshare did not start"
        time.sleep(0.01)
    return pid
