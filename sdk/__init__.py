"""The public Python client of Alcor: `Client` and its typed exceptions."""

from .client import Client, ClusterStatus, Member
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
    "AlcorError", "AlreadyExists", "Client", "ClusterStatus", "DeadlineExceeded", "FailedPrecondition",
    "InvalidArgument", "Member", "NotFound", "OutOfRange", "PermissionDenied", "ResourceExhausted",
    "Unauthenticated", "Unavailable",
]
