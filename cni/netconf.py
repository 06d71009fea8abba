"""This plugin's keys in the network configuration, read into `NetConf`, and the conflist that
`alcor cni conflist` prints.

    {"cniVersion": "1.0.0", "name": "alcor", "plugins": [{
        "type": "alcor-cni",
        "vpc": "web",                     # id or name
        "subnet": "web-a",                # id or name, in that VPC
        "endpoints": ["10.0.0.1:6001"],   # controller API endpoints (a list or "a,b,c")
        "hostId": "h1",                   # the host id of this machine's agent
        "tokenFile": "/etc/alcor/cni-token",          # optional: a file holding the token
        "tls": {"ca": "ca.pem", "cert": "c.pem", "key": "c.key"},  # optional
        "project": "team-a",              # optional: the project (admin tokens)
        "securityGroups": ["web"],        # optional: ids or names (default: the project's default)
        "timeoutSeconds": 10,             # optional: how long ADD waits for ACTIVE
        "capabilities": {"ips": true, "mac": true}}]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import CNI_VERSION, INVALID_CONFIG, IO_FAILURE, CniError

PLUGIN_TYPE = "alcor-cni"
DEFAULT_TIMEOUT = 10.0
KNOWN_KEYS = frozenset(
    {
        "type", "name", "cniVersion", "capabilities", "runtimeConfig", "args", "prevResult", "ipam", "dns",
        "vpc", "subnet", "endpoints", "hostId", "tokenFile", "tls", "project", "securityGroups",
        "timeoutSeconds",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Tls:
    ca: str
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class NetConf:
    network: str
    vpc: str
    subnet: str
    endpoints: tuple[str, ...]
    host_id: str
    token_file: str = ""
    tls: Tls | None = None
    project: str = ""
    security_groups: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT

    def token(self) -> str | None:
        """The first word of the token file, or None without one."""
        if not self.token_file:
            return None
        try:
            words = Path(self.token_file).read_text().split()
        except OSError as e:
            raise CniError(IO_FAILURE, f"cannot read tokenFile {self.token_file}: {e.strerror}") from None
        if not words:
            raise CniError(INVALID_CONFIG, f"tokenFile {self.token_file} is empty")
        return words[0]


def _text(config: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = config.get(key, "")
    if not isinstance(value, str):
        raise CniError(INVALID_CONFIG, f"{key} must be a string")
    if required and not value:
        raise CniError(INVALID_CONFIG, f"the network configuration has no {key!r}")
    return value


def _list(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = config.get(key, [])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CniError(INVALID_CONFIG, f"{key} must be a list of strings")
    return tuple(value)


def parse(config: Mapping[str, Any]) -> NetConf:
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise CniError(INVALID_CONFIG, f"unknown keys in the network configuration: {', '.join(unknown)}")
    endpoints = _list(config, "endpoints")
    if not endpoints:
        raise CniError(INVALID_CONFIG, "the network configuration has no 'endpoints'")
    tls = config.get("tls")
    parsed_tls = None
    if tls is not None:
        if not isinstance(tls, Mapping) or not isinstance(tls.get("ca", ""), str) or not tls.get("ca"):
            raise CniError(INVALID_CONFIG, "tls must be an object with at least 'ca'")
        parsed_tls = Tls(_text(tls, "ca"), _text(tls, "cert", False), _text(tls, "key", False))
        if bool(parsed_tls.cert) != bool(parsed_tls.key):
            raise CniError(INVALID_CONFIG, "tls 'cert' and 'key' go together")
    timeout = config.get("timeoutSeconds", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise CniError(INVALID_CONFIG, "timeoutSeconds must be a number of seconds in (0, 600]")
    return NetConf(
        network=_text(config, "name", False),
        vpc=_text(config, "vpc"),
        subnet=_text(config, "subnet"),
        endpoints=endpoints,
        host_id=_text(config, "hostId"),
        token_file=_text(config, "tokenFile", False),
        tls=parsed_tls,
        project=_text(config, "project", False),
        security_groups=_list(config, "securityGroups"),
        timeout=float(timeout),
    )


def conflist(
    *,
    name: str,
    vpc: str,
    subnet: str,
    endpoints: Sequence[str],
    host_id: str,
    token_file: str = "",
    tls: Tls | None = None,
    project: str = "",
    security_groups: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """A network configuration list with this plugin as its one plugin."""
    plugin: dict[str, Any] = {
        "type": PLUGIN_TYPE,
        "vpc": vpc,
        "subnet": subnet,
        "endpoints": list(endpoints),
        "hostId": host_id,
    }
    if token_file:
        plugin["tokenFile"] = token_file
    if tls is not None:
        plugin["tls"] = {k: v for k, v in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)) if v}
    if project:
        plugin["project"] = project
    if security_groups:
        plugin["securityGroups"] = list(security_groups)
    if timeout != DEFAULT_TIMEOUT:
        plugin["timeoutSeconds"] = timeout
    plugin["capabilities"] = {"ips": True, "mac": True}
    conf = {"cniVersion": CNI_VERSION, "name": name, "plugins": [plugin]}
    parse({**plugin, "name": name, "cniVersion": CNI_VERSION})  # what we print must load
    return conf
