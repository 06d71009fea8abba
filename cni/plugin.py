"""ADD, DEL and CHECK against the cluster: one container interface is one Alcor port.

The plugin talks only to the controllers (the conflist's endpoints and token); the host's agent
learns of the port from its goal state, like any other port bound to its host:
- ADD finds the port of (container id, interface) or creates it bound to `hostId`, with the
  runtime's namespace path as its device id and CNI_IFNAME as its interface; the agent wires
  that interface; ADD waits until the port is ACTIVE (the agent acked it programmed) and prints
  the result. A port ADD made and could not bring up is deleted again.
- DEL deletes the container's ports on this host and waits (briefly) until the agent applied
  that, so the runtime can drop the namespace afterwards. Nothing there: success.
- CHECK compares the port with what the namespace holds.

Every failure is a `CniError`; the controller or agent not answering is TRY_AGAIN_LATER.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from alcor.agent.dataplane.workload import OVERLAY_MTU, WORKLOAD_IFNAME
from alcor.sdk import (
    AlcorError,
    Client,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    tls_credentials,
)
from alcor.v1 import resources_pb2 as res

from . import spec
from .netconf import NetConf
from .spec import CniError, Invocation

# between reads of a port's status while ADD waits for ACTIVE: soon after the create (the whole
# path takes tens of milliseconds), then backing off so that a slow host costs few reads
POLL_FIRST, POLL_MAX = 0.002, 0.025
DEL_WAIT = 5.0  # how long DEL waits for the agent to unwire (it succeeds either way)
CLEANUP_TIMEOUT = 3.0


class Clock:
    """Monotonic time and sleep, injected so that tests can run the waits without waiting."""

    now: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)


class Deadline:
    def __init__(self, seconds: float, clock: Clock) -> None:
        self.clock = clock
        self.at = clock.now() + seconds

    def left(self) -> float:
        return max(0.0, self.at - self.clock.now())

    def passed(self) -> bool:
        return self.left() <= 0


def refused(e: AlcorError, what: str) -> CniError:
    """A controller error as the runtime should see it."""
    if isinstance(e, Unavailable | DeadlineExceeded):
        return CniError(spec.TRY_AGAIN_LATER, "alcor controller unavailable", f"{what}: {e}")
    if isinstance(e, Unauthenticated | PermissionDenied):
        return CniError(spec.INVALID_CONFIG, f"alcor refused the credentials: {e}", what)
    return CniError(spec.REFUSED, f"{what}: {e}", e.code.name)


@contextmanager
def connect(conf: NetConf, timeout: float) -> Iterator[Client]:
    try:
        tls = tls_credentials(conf.tls.ca, conf.tls.cert or None, conf.tls.key or None) if conf.tls else None
    except ValueError as e:
        raise CniError(spec.IO_FAILURE, f"tls: {e}") from None
    client = Client(list(conf.endpoints), token=conf.token(), tls=tls, timeout=timeout)
    try:
        yield client
    except AlcorError as e:
        raise refused(e, "alcor") from None
    finally:
        client.close()


# ---- names -------------------------------------------------------------------------------


def _find(by_name: Callable[[], Any], get: Callable[[str], Any], ref: str, kind: str, where: str = "") -> Any:
    """The one resource named `ref`, else the one whose id is `ref` (names first: a conflist
    names what its operator reads, and a name costs one read)."""
    found = list(by_name())
    if len(found) > 1:
        raise CniError(spec.INVALID_CONFIG, f"{kind} name {ref!r} is ambiguous{where}: use its id")
    if found:
        return found[0]
    try:
        return get(ref)
    except (NotFound, InvalidArgument):
        raise CniError(spec.INVALID_CONFIG, f"{kind} {ref!r} not found{where}") from None


def resolve(client: Client, conf: NetConf) -> tuple[res.Vpc, res.Subnet, list[str]]:
    """The conflist's VPC, subnet and security groups, each named by name or by id."""
    vpc = _find(
        lambda: client.list_vpcs(name=conf.vpc, project_id=conf.project), client.get_vpc, conf.vpc, "vpc"
    )
    where = f" in vpc {vpc.id}"
    subnet = _find(
        lambda: client.list_subnets(vpc_id=vpc.id, name=conf.subnet),
        client.get_subnet,
        conf.subnet,
        "subnet",
        where,
    )
    if subnet.vpc_id != vpc.id:
        raise CniError(spec.INVALID_CONFIG, f"subnet {conf.subnet!r} not found{where}")
    groups = []
    for ref in conf.security_groups:
        group = _find(
            lambda r=ref: client.list_security_groups(name=r, project_id=vpc.project_id),
            client.get_security_group,
            ref,
            "security group",
        )
        groups.append(group.id)
    return vpc, subnet, groups


# ---- what the runtime asks for -----------------------------------------------------------


def requested(inv: Invocation) -> tuple[list[str], str]:
    """The IPs and MAC the runtime asks for: CNI_ARGS IP=/MAC= (podman) or runtimeConfig
    ips/mac (containerd, CRI-O). IPv6 requests are refused: the data plane is IPv4."""
    ips: list[str] = []
    raw = inv.args.get("IP", "")
    sources = [(a, "CNI_ARGS IP") for a in raw.split(",") if a]
    rc = inv.runtime_config
    rc_ips = rc.get("ips", [])
    if not isinstance(rc_ips, list) or not all(isinstance(a, str) for a in rc_ips):
        raise CniError(spec.INVALID_CONFIG, "runtimeConfig ips must be a list of addresses")
    sources += [(a, "runtimeConfig ips") for a in rc_ips]
    for text, where in sources:
        try:
            ip = ipaddress.ip_interface(text).ip
        except ValueError:
            raise CniError(spec.INVALID_CONFIG, f"{where}: {text!r} is not an IP address") from None
        if ip.version != 4:
            raise CniError(spec.INVALID_CONFIG, f"{where}: {text} is IPv6; Alcor ports are IPv4")
        if str(ip) not in ips:
            ips.append(str(ip))
    mac = inv.args.get("MAC", "") or rc.get("mac", "")
    if not isinstance(mac, str):
        raise CniError(spec.INVALID_CONFIG, "runtimeConfig mac must be a string")
    return ips, mac.lower()


def container_of(inv: Invocation) -> res.PortContainer:
    return res.PortContainer(
        container_id=inv.container_id,
        pod_namespace=inv.args.get("K8S_POD_NAMESPACE", ""),
        pod_name=inv.args.get("K8S_POD_NAME", ""),
        pod_uid=inv.args.get("K8S_POD_UID", ""),
    )


def port_name(inv: Invocation) -> str:
    base = inv.args.get("K8S_POD_NAME") or inv.container_id[:12]
    return base if inv.ifname == WORKLOAD_IFNAME else f"{base}-{inv.ifname}"


def ports_of(client: Client, inv: Invocation, host_id: str) -> list[res.Port]:
    """This host's ports for the invocation's container and interface."""
    return [
        p
        for p in client.list_ports(container_id=inv.container_id)
        if p.host_id == host_id and (p.interface_name or WORKLOAD_IFNAME) == inv.ifname
    ]


# ---- ADD ---------------------------------------------------------------------------------


def add(
    inv: Invocation,
    conf: NetConf,
    clock: Clock | None = None,
    trace: dict[str, float] | None = None,
    open_client: Callable[[NetConf, float], AbstractContextManager[Client]] = connect,
) -> dict[str, Any]:
    clock = clock or Clock()
    trace = {} if trace is None else trace
    deadline = Deadline(conf.timeout, clock)
    mark = _marker(clock, trace)
    with open_client(conf, conf.timeout) as client:
        _vpc, subnet, groups = resolve(client, conf)
        mark("resolve")
        existing = ports_of(client, inv, conf.host_id)
        mark("lookup")
        created = moved = False
        if existing:
            port = existing[0]
            if port.device_id != inv.netns:
                # the container's namespace was replaced without a DEL (a runtime crash): follow it
                try:
                    port = client.update_port(port.id, device_id=inv.netns)
                except AlcorError as e:
                    raise refused(e, "moving the port to the new namespace") from None
                moved = True
        else:
            _agent_connected(client, conf.host_id)
            mark("agent_check")
            ips, mac = requested(inv)
            try:
                port = client.create_port(
                    subnet_id=subnet.id,
                    host_id=conf.host_id,
                    name=port_name(inv),
                    fixed_ips=ips or None,
                    mac_address=mac,
                    device_id=inv.netns,
                    interface_name=inv.ifname,
                    container=container_of(inv),
                    security_group_ids=groups or None,
                    project_id=conf.project,
                )
            except AlcorError as e:
                raise refused(e, "creating the port") from None
            created = True
            mark("create")
        try:
            port = _wait_active(client, port, conf.host_id, deadline, clock, current=not moved, mark=mark)
        except BaseException:
            if created:
                _delete_quietly(client, port.id)
            raise
        mark("active")
        return spec.result(_attached(client, port, subnet, inv), inv.version)


def _marker(clock: Clock, trace: dict[str, float]) -> Callable[[str], None]:
    last = [clock.now()]

    def mark(phase: str) -> None:
        now = clock.now()
        trace[phase] = round((now - last[0]) * 1000, 3)
        last[0] = now

    return mark


def _agent_connected(client: Client, host_id: str) -> None:
    """Fail fast (and before anything is made) when no agent of this host is connected."""
    progress = client.wait_for_hosts(0, host_ids=[host_id], timeout=1.0)
    if not any(h.host_id == host_id and h.connected for h in progress.hosts):
        raise CniError(
            spec.TRY_AGAIN_LATER,
            f"the agent of host {host_id} is not connected to the controllers",
            "start `alcor agent run --host-id " + host_id + "` on this host, or fix hostId",
        )


def _wait_active(
    client: Client,
    port: res.Port,
    host_id: str,
    deadline: Deadline,
    clock: Clock,
    current: bool,
    mark: Callable[[str], None] = lambda _: None,
) -> res.Port:
    """The port once ACTIVE; an ERROR or the deadline is a CniError.

    `current`: the port's status speaks of its present configuration. A new port is DOWN until
    its host acked that configuration (port_reports), an adopted one is as it is: their status
    is read until it settles, which sees ACTIVE as soon as its write-back commits on whichever
    member the agent streams from. A moved port still shows its old namespace's status, so the
    host's applying the move is waited for first."""
    if not current:
        progress = client.wait_for_hosts(
            port.revision, host_ids=[host_id], timeout=max(deadline.left(), 0.001)
        )
        mark("acked")
        if not progress.complete:
            raise _late(port, host_id)
        port = client.get_port(port.id)
    pause = POLL_FIRST
    while True:
        if port.status == res.PORT_STATUS_ACTIVE:
            return port
        if port.status == res.PORT_STATUS_ERROR:
            raise CniError(
                spec.PORT_FAILED, f"host {host_id} could not program port {port.id}", port.status_detail
            )
        if deadline.passed():
            raise _late(port, host_id)
        clock.sleep(min(pause, deadline.left()))
        pause = min(pause * 2, POLL_MAX)
        port = client.get_port(port.id)


def _late(port: res.Port, host_id: str) -> CniError:
    return CniError(
        spec.TRY_AGAIN_LATER,
        f"port {port.id} not ACTIVE within the deadline",
        f"the agent of host {host_id} did not report it programmed",
    )


def _attached(client: Client, port: res.Port, subnet: res.Subnet, inv: Invocation) -> spec.Attached:
    subnets = {subnet.id: subnet}
    addresses = []
    for fixed in port.fixed_ips:
        sid = fixed.subnet_id or port.subnet_id
        if sid not in subnets:
            subnets[sid] = client.get_subnet(sid)
        prefix = ipaddress.ip_network(subnets[sid].cidr).prefixlen
        addresses.append(f"{fixed.ip_address}/{prefix}")
    own = subnets.get(port.subnet_id, subnet)
    gateway = own.gateway_ip
    return spec.Attached(
        ifname=port.interface_name or WORKLOAD_IFNAME,
        mac=port.mac_address,
        sandbox=port.device_id,
        addresses=addresses,
        gateway=gateway,
        nameservers=list(own.dns_nameservers),
        mtu=OVERLAY_MTU,
        routes=[("0.0.0.0/0", gateway)] if gateway else [],
    )


def _delete_quietly(client: Client, port_id: str) -> None:
    try:
        client.delete_port(port_id, timeout=CLEANUP_TIMEOUT)
    except NotFound:
        pass
    except AlcorError:
        pass  # the error being reported says more; a later DEL removes the port


# ---- DEL ---------------------------------------------------------------------------------


def delete(inv: Invocation, conf: NetConf, clock: Clock | None = None) -> None:
    clock = clock or Clock()
    deadline = Deadline(conf.timeout, clock)
    with connect(conf, conf.timeout) as client:
        revision = 0
        for port in ports_of(client, inv, conf.host_id):
            try:
                revision = max(revision, client.delete_port(port.id))
            except NotFound:
                continue
        if revision and deadline.left() > 0:
            # unwired before the runtime drops the namespace; an agent that is down unwires later
            client.wait_for_hosts(
                revision, host_ids=[conf.host_id], timeout=max(min(DEL_WAIT, deadline.left()), 0.001)
            )


# ---- CHECK -------------------------------------------------------------------------------


def check(
    inv: Invocation, conf: NetConf, inspect: Callable[[str, str], tuple[str, Sequence[Any]] | None]
) -> None:
    """`inspect(netns, ifname)`: (mac, addresses with .ip and .prefixlen) of the interface in the
    namespace, or None when it is not there."""
    with connect(conf, conf.timeout) as client:
        ports = ports_of(client, inv, conf.host_id)
        if not ports:
            raise CniError(
                spec.PORT_FAILED, f"no port for container {inv.container_id} interface {inv.ifname}"
            )
        port = ports[0]
        if port.status != res.PORT_STATUS_ACTIVE:
            name = res.PortStatus.Name(port.status).removeprefix("PORT_STATUS_")
            raise CniError(spec.PORT_FAILED, f"port {port.id} is {name}", port.status_detail)
        if port.device_id != inv.netns:
            raise CniError(
                spec.INTERFACE_MISMATCH, f"port {port.id} is wired in {port.device_id}, not {inv.netns}"
            )
    found = inspect(inv.netns, inv.ifname)
    if found is None:
        raise CniError(spec.INTERFACE_MISMATCH, f"no interface {inv.ifname} in {inv.netns}")
    mac, addresses = found
    if mac.lower() != port.mac_address:
        raise CniError(
            spec.INTERFACE_MISMATCH, f"{inv.ifname} has MAC {mac}, the port has {port.mac_address}"
        )
    have = {a.ip for a in addresses}
    for fixed in port.fixed_ips:
        if fixed.ip_address not in have:
            raise CniError(
                spec.INTERFACE_MISMATCH,
                f"{inv.ifname} does not carry {fixed.ip_address}",
                f"it has {', '.join(sorted(have)) or 'no IPv4 address'}",
            )
