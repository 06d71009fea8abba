"""The method table shared by `Client` and `AsyncClient`: every operation is declared once here,
from the functions of ops.py and cluster.py, and each client supplies only its transport.

`unary(op)` makes `client.op(...)` run the call (sync: returns the result; asyncio: returns an
awaitable). `paged(op)` makes `client.list_x(...)` iterate every item across pages (sync:
an iterator; asyncio: an async iterator), fetching each page when needed.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

import grpc

from . import cluster, ops
from .call import Call, Page
from .retry import Router

if TYPE_CHECKING:
    from .aio import AsyncClient
    from .client import Client

P = ParamSpec("P")
T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0
DEFAULT_ATTEMPT_TIMEOUT = 5.0


def _signature(build: Callable[..., Any], wrapper: str) -> dict[str, inspect.Signature]:
    """The operation's signature as each client shows it: "Call[X]" returns X or wrapper[X]."""
    sig = inspect.signature(build)
    inner = str(sig.return_annotation).removeprefix("Call[").removesuffix("]")
    if wrapper == "Page":
        inner = inner.removeprefix("Page[").removesuffix("]")
        shown = {"Client": f"Iterator[{inner}]", "AsyncClient": f"AsyncIterator[{inner}]"}
    else:
        shown = {"Client": inner, "AsyncClient": f"Awaitable[{inner}]"}
    return {k: sig.replace(return_annotation=v) for k, v in shown.items()}


class unary(Generic[P, T]):  # lower case: used like a decorator
    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.signatures = _signature(build, "")

    def __repr__(self) -> str:  # what help(Client) shows
        return f"method{self.signatures['Client']}"

    @overload
    def __get__(self, obj: None, owner: type) -> unary[P, T]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> Callable[P, T]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        build, run = self.build, obj._run

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return run(build(*args, **kwargs))

        method.__signature__ = self.signatures[obj._kind]  # type: ignore[attr-defined]
        return method


class paged(Generic[P, T]):
    def __init__(self, build: Callable[P, Call[Page[T]]]) -> None:
        self.build = build
        self.__doc__ = f"Every item across pages (fetched page by page); see {build.__name__}."
        self.signatures = _signature(build, "Page")

    def __repr__(self) -> str:
        return f"method{self.signatures['Client']}"

    @overload
    def __get__(self, obj: None, owner: type) -> paged[P, T]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type) -> Callable[P, AsyncIterator[T]]: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> Callable[P, Iterator[T]]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        build, pages = self.build, obj._items

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return pages(functools.partial(build, *args, **kwargs))

        method.__doc__ = self.__doc__
        method.__signature__ = self.signatures[obj._kind]  # type: ignore[attr-defined]
        return method


class Api:
    """State and operations common to both clients. Results are the alcor.v1 resource
    messages; `last_revision` is the highest response-header revision this client has seen
    (after a write, at least that write's revision)."""

    _kind = "Client"

    def __init__(
        self,
        endpoints: str | Sequence[str],
        token: str | None = None,
        tls: grpc.ChannelCredentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempt_timeout: float | None = DEFAULT_ATTEMPT_TIMEOUT,
    ) -> None:
        self.router = Router(endpoints)
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        self.last_revision = 0
        self._tls = tls
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    @property
    def endpoints(self) -> list[str]:
        return self.router.endpoints

    def _result(self, call: Call[T], response: Any) -> T:
        header = getattr(response, "header", None)
        if header is not None and header.revision > self.last_revision:
            self.last_revision = int(header.revision)
        return call.result(response)

    def _run(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    def _items(self, page_call: Callable[..., Call[Page[Any]]]) -> Any:
        raise NotImplementedError

    # ---- VPC ----
    create_vpc = unary(ops.create_vpc)
    get_vpc = unary(ops.get_vpc)
    list_vpcs = paged(ops.list_vpcs_page)
    list_vpcs_page = unary(ops.list_vpcs_page)
    update_vpc = unary(ops.update_vpc)
    delete_vpc = unary(ops.delete_vpc)
    # ---- Subnet ----
    create_subnet = unary(ops.create_subnet)
    get_subnet = unary(ops.get_subnet)
    list_subnets = paged(ops.list_subnets_page)
    list_subnets_page = unary(ops.list_subnets_page)
    update_subnet = unary(ops.update_subnet)
    delete_subnet = unary(ops.delete_subnet)
    # ---- Port ----
    create_port = unary(ops.create_port)
    create_ports = unary(ops.create_ports)
    get_port = unary(ops.get_port)
    list_ports = paged(ops.list_ports_page)
    list_ports_page = unary(ops.list_ports_page)
    update_port = unary(ops.update_port)
    delete_port = unary(ops.delete_port)
    # ---- Security group ----
    create_security_group = unary(ops.create_security_group)
    get_security_group = unary(ops.get_security_group)
    list_security_groups = paged(ops.list_security_groups_page)
    list_security_groups_page = unary(ops.list_security_groups_page)
    update_security_group = unary(ops.update_security_group)
    delete_security_group = unary(ops.delete_security_group)
    create_security_group_rule = unary(ops.create_security_group_rule)
    delete_security_group_rule = unary(ops.delete_security_group_rule)
    # ---- Node ----
    create_node = unary(ops.create_node)
    get_node = unary(ops.get_node)
    list_nodes = paged(ops.list_nodes_page)
    list_nodes_page = unary(ops.list_nodes_page)
    update_node = unary(ops.update_node)
    delete_node = unary(ops.delete_node)
    # ---- Progress ----
    wait_for_hosts = unary(ops.wait_for_hosts)
    current_revision = unary(ops.current_revision)
    # ---- Cluster ----
    cluster_status = unary(cluster.cluster_status)
    add_member = unary(cluster.add_member)
    remove_member = unary(cluster.remove_member)
    transfer_leader = unary(cluster.transfer_leader)


def tls_credentials(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> grpc.ChannelCredentials:
    """Channel credentials from PEM files: the CA to trust (default: the system's), and a client
    certificate and key for mutual TLS (both or neither)."""
    if bool(cert) != bool(key):
        raise ValueError("a client certificate needs its key (and a key its certificate)")

    def read(path: str | None) -> bytes | None:
        if not path:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise ValueError(f"cannot read {path}: {e.strerror}") from None

    return grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
