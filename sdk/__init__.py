"""The public Python client of Alcor: `Client` (blocking) and `AsyncClient` (asyncio) with the
same methods, their typed exceptions, and the helpers they take and return."""

from .aio import AsyncClient, AsyncWatch
from .api import tls_credentials
from .call import Page
from .client import Client, Watch
from .cluster import ClusterStatus, Member
from .errors import (
    AlcorError,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "AlcorError",
    "AlreadyExists",
    "AsyncClient",
    "AsyncWatch",
    "Client",
    "ClusterStatus",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "Member",
    "NotFound",
    "OutOfRange",
    "Page",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Watch",
    "tls_credentials",
]
