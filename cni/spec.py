"""The CNI protocol as the runtime speaks it (spec 1.0.0): the invocation read from the
environment and stdin, the error object and codes, and the result printed for ADD.

Pure: nothing here reads the environment or prints; `main` hands the values in and out.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CNI_VERSION = "1.0.0"
# every version whose result this plugin can write (0.3.x and 0.4.0 results name the IP version)
SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION")

# Error codes: 1-99 are the spec's, 100+ this plugin's.
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
REFUSED = 100  # the controller refused the request (bad or conflicting input)
PORT_FAILED = 101  # the port exists but is not ACTIVE on its host (or not there at all, for CHECK)
INTERFACE_MISMATCH = 102  # CHECK: the interface in the namespace is not the port's


class CniError(Exception):
    """An error the plugin reports to the runtime as the spec's error object."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def to_json(self, version: str = CNI_VERSION) -> str:
        body: dict[str, Any] = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            body["details"] = self.details
        return json.dumps(body)


@dataclass(frozen=True)
class Invocation:
    """One call of the plugin: the spec's CNI_* variables and the network configuration."""

    command: str
    container_id: str
    netns: str
    ifname: str
    args: Mapping[str, str]  # CNI_ARGS
    config: Mapping[str, Any]  # stdin: the plugin's object of the conflist, name and version added
    version: str = CNI_VERSION

    @property
    def runtime_config(self) -> Mapping[str, Any]:
        value = self.config.get("runtimeConfig") or {}
        if not isinstance(value, Mapping):
            raise CniError(INVALID_CONFIG, "runtimeConfig must be an object")
        return value


def parse_args(text: str) -> dict[str, str]:
    """CNI_ARGS: "K=V;K=V" (IgnoreUnknown=1 included, as runtimes send it)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CniError(INVALID_ENVIRONMENT, f"CNI_ARGS: {part!r} is not KEY=VALUE")
        out[key] = value
    return out


def invocation(env: Mapping[str, str], stdin: bytes) -> Invocation:
    """Read one call; a CniError says what is missing or malformed."""
    command = env.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CniError(INVALID_ENVIRONMENT, f"CNI_COMMAND {command!r} is not one of {', '.join(COMMANDS)}")
    try:
        config = json.loads(stdin or b"{}")
    except ValueError as e:
        raise CniError(DECODE_FAILURE, "the network configuration on stdin is not JSON", str(e)) from None
    if not isinstance(config, dict):
        raise CniError(DECODE_FAILURE, "the network configuration on stdin is not a JSON object")
    version = config.get("cniVersion", CNI_VERSION)
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"cniVersion {version!r} is not supported",
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
        )
    inv = Invocation(
        command=command,
        container_id=env.get("CNI_CONTAINERID", ""),
        netns=env.get("CNI_NETNS", ""),
        ifname=env.get("CNI_IFNAME", ""),
        args=parse_args(env.get("CNI_ARGS", "")),
        config=config,
        version=version,
    )
    if command == "VERSION":
        return inv
    missing = [
        name
        for name, value in (("CNI_CONTAINERID", inv.container_id), ("CNI_IFNAME", inv.ifname))
        if not value
    ]
    if command in ("ADD", "CHECK") and not inv.netns:
        missing.append("CNI_NETNS")  # (DEL may come after the namespace is gone)
    if missing:
        raise CniError(INVALID_ENVIRONMENT, f"missing {', '.join(missing)}")
    if command in ("ADD", "CHECK") and not inv.netns.startswith("/"):
        raise CniError(INVALID_ENVIRONMENT, f"CNI_NETNS {inv.netns!r} is not a path")
    return inv


def version_result(version: str) -> str:
    return json.dumps({"cniVersion": version, "supportedVersions": list(SUPPORTED_VERSIONS)})


@dataclass(frozen=True)
class Attached:
    """What ADD reports: the interface in the sandbox and its configuration."""

    ifname: str
    mac: str
    sandbox: str
    addresses: Sequence[str]  # "ip/prefix"
    gateway: str
    nameservers: Sequence[str] = ()
    search: Sequence[str] = ()
    mtu: int = 0
    routes: Sequence[tuple[str, str]] = field(default=())  # (dst, gw)


def result(attached: Attached, version: str) -> dict[str, Any]:
    """The ADD result in the format of `version` (0.3.x and 0.4.0 add each IP's version)."""
    iface: dict[str, Any] = {"name": attached.ifname, "mac": attached.mac, "sandbox": attached.sandbox}
    if attached.mtu:
        iface["mtu"] = attached.mtu  # (a 1.1.0 field; earlier readers ignore it)
    ips = []
    for address in attached.addresses:
        entry: dict[str, Any] = {"interface": 0, "address": address}
        if attached.gateway:
            entry["gateway"] = attached.gateway
        if version != "1.0.0":
            entry["version"] = str(ipaddress.ip_interface(address).version)
        ips.append(entry)
    dns: dict[str, Any] = {}
    if attached.nameservers:
        dns["nameservers"] = list(attached.nameservers)
    if attached.search:
        dns["search"] = list(attached.search)
    return {
        "cniVersion": version,
        "interfaces": [iface],
        "ips": ips,
        "routes": [{"dst": dst, "gw": gw} for dst, gw in attached.routes],
        "dns": dns,
    }
