"""How a CLI command reaches the cluster: the connection and output options every resource
command takes, and the `Client` built from them.

`@connected` adds --endpoints/ALCOR_ENDPOINTS, --token/ALCOR_TOKEN, --ca/--cert/--key
(ALCOR_CA, ALCOR_CERT, ALCOR_KEY) for TLS, --timeout and -o; it hands the command a ready
`client` and `output`, closes the client afterwards, and turns errors into one line.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from alcor.sdk import Client, tls_credentials

from .output import endpoints_option, friendly_errors, output_option, token_option

_OPTIONS = [
    endpoints_option,
    token_option,
    click.option(
        "--ca",
        envvar="ALCOR_CA",
        type=click.Path(dir_okay=False),
        help="CA certificate (PEM) to trust: connect with TLS (env ALCOR_CA).",
    ),
    click.option(
        "--cert",
        envvar="ALCOR_CERT",
        type=click.Path(dir_okay=False),
        help="Client certificate (PEM) for mutual TLS (env ALCOR_CERT).",
    ),
    click.option(
        "--key",
        envvar="ALCOR_KEY",
        type=click.Path(dir_okay=False),
        help="Client key (PEM) for mutual TLS (env ALCOR_KEY).",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="Deadline of each request in seconds.",
    ),
    output_option,
]


def open_client(
    endpoints: str, token: str | None, ca: str | None, cert: str | None, key: str | None, timeout: float
) -> Client:
    tls = tls_credentials(ca, cert, key) if (ca or cert or key) else None
    return Client(endpoints, token=token, tls=tls, timeout=timeout)


def connected(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def command(
        endpoints: str,
        token: str | None,
        ca: str | None,
        cert: str | None,
        key: str | None,
        timeout: float,
        output: str,
        **kwargs: Any,
    ) -> Any:
        with open_client(endpoints, token, ca, cert, key, timeout) as client:
            return fn(client=client, output=output, **kwargs)

    wrapped: Callable[..., Any] = friendly_errors(command)
    for option in reversed(_OPTIONS):
        wrapped = option(wrapped)
    return wrapped
