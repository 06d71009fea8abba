"""A controller node's configuration: flags and an equivalent TOML file, validated once.

    id = "c1"
    data_dir = "/var/lib/alcor"
    listen = "0.0.0.0:6001"          # client API (NetworkService, WatchService, ClusterService,
                                     # GoalStateService, health, reflection)
    peer_listen = "0.0.0.0:7001"     # Raft peers
    advertise = "10.0.0.1:6001"      # API address other members and clients use (default: listen)
    peer_advertise = "10.0.0.1:7001"
    bootstrap = "c1=10.0.0.1:7001/10.0.0.1:6001,c2=..."   # founding members: id=peer/api
    # or: join = "10.0.0.1:6001"     # an API endpoint of a running cluster
    token_file = "/etc/alcor/tokens"  # TOKEN SCOPE per line (controller/api/auth.py)
    peer_secret_file = "/etc/alcor/peer-secret"
    tls_cert = "..."  tls_key = "..."  tls_ca = "..."      # API and peer TLS (mutual for peers)
    metrics_listen = "127.0.0.1:9101"
    history = 100000                 # change-log revisions kept (watch resume, agent resume)
    vni_range = "1-16777215"
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_LISTEN = "127.0.0.1:6001"
DEFAULT_PEER_LISTEN = "127.0.0.1:7001"


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the setting."""


@dataclass(frozen=True)
class NodeConfig:
    id: str = "c1"
    data_dir: str = "./alcor-data"
    listen: str = DEFAULT_LISTEN
    peer_listen: str = DEFAULT_PEER_LISTEN
    advertise: str = ""
    peer_advertise: str = ""
    bootstrap: dict[str, tuple[str, str]] = field(default_factory=dict)
    join: str = ""
    token_file: str = ""
    peer_secret_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    metrics_listen: str = ""
    vni_range: tuple[int, int] = (1, 0xFFFFFF)
    # change-log revisions kept for watches, agent resumes and request-id replays
    history: int = 100_000
    compact_interval: float = 10.0
    tick_seconds: float = 0.05
    snapshot_entries: int = 20_000
    # fsync the Raft log (never turn off outside benchmarks of the rest of the system)
    fsync: bool = True

    @property
    def api_address(self) -> str:
        return self.advertise or self.listen

    @property
    def peer_address(self) -> str:
        return self.peer_advertise or self.peer_listen

    @property
    def founding(self) -> dict[str, tuple[str, str]]:
        """The founding members; a node given neither bootstrap nor join founds a cluster of one."""
        if self.bootstrap or self.join:
            return dict(self.bootstrap)
        return {self.id: (self.peer_address, self.api_address)}

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def validate(self) -> NodeConfig:
        if not self.id or any(c.isspace() or c in ",=/" for c in self.id):
            raise ConfigError(f"id {self.id!r}: use a non-empty name without spaces, ',', '=' or '/'")
        for name in ("listen", "peer_listen"):
            _check_address(name, getattr(self, name))
        if self.bootstrap and self.join:
            raise ConfigError("give either bootstrap or join, not both")
        if self.bootstrap and self.id not in self.bootstrap:
            raise ConfigError(f"bootstrap does not list this node's id {self.id!r}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert and tls_key go together")
        if self.tls_ca and not self.tls_cert:
            raise ConfigError("tls_ca needs tls_cert and tls_key")
        for name in ("token_file", "peer_secret_file", "tls_cert", "tls_key", "tls_ca"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"{name}: {path} is not a readable file")
        if self.history < 1:
            raise ConfigError(f"history {self.history}: keep at least one revision")
        first, last = self.vni_range
        if not 1 <= first <= last <= 0xFFFFFF:
            raise ConfigError(f"vni_range {first}-{last}: must be within 1-16777215")
        return self


def _check_address(name: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name} {value!r}: expected host:port")


def parse_bootstrap(text: str) -> dict[str, tuple[str, str]]:
    """`id=peer/api,...` -> {id: (peer, api)}."""
    out: dict[str, tuple[str, str]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        mid, eq, addrs = part.partition("=")
        peer, _, api = addrs.partition("/")
        if not eq or not mid or not peer:
            raise ConfigError(f"bootstrap entry {part!r}: expected id=peer_host:port/api_host:port")
        _check_address(f"bootstrap {mid} peer", peer)
        if api:
            _check_address(f"bootstrap {mid} api", api)
        out[mid] = (peer, api)
    return out


def parse_vni_range(text: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    try:
        return (int(first), int(last)) if sep else (int(first), int(first))
    except ValueError:
        raise ConfigError(f"vni_range {text!r}: expected FIRST-LAST") from None


def load(path: str | None, overrides: dict[str, Any]) -> NodeConfig:
    """A config file (optional) with command-line overrides (None values ignored), validated."""
    values: dict[str, Any] = {}
    if path:
        try:
            values = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(NodeConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    if isinstance(values.get("bootstrap"), str):
        values["bootstrap"] = parse_bootstrap(values["bootstrap"])
    if isinstance(values.get("vni_range"), str):
        values["vni_range"] = parse_vni_range(values["vni_range"])
    try:
        return NodeConfig(**values).validate()
    except TypeError as e:
        raise ConfigError(str(e)) from None
