"""How the CLI prints: human tables by default, JSON with -o json; errors as one line."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

import click
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from alcor.sdk import AlcorError

F = TypeVar("F", bound=Callable[..., Any])


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)
    ]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def emit(output: str, data: Any, render: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if output == "json" else render(data))


def to_data(message: Message) -> dict[str, Any]:
    """A message as plain JSON data: every field (defaults included, unset oneof members left
    out), numbers as numbers, enums by their proto names."""
    out: dict[str, Any] = {}
    for f in message.DESCRIPTOR.fields:
        if f.containing_oneof is not None and not message.HasField(f.name):
            continue
        value = getattr(message, f.name)
        if f.is_repeated:
            out[f.name] = [_value(f, v) for v in value]
        else:
            out[f.name] = _value(f, value)
    return out


def _value(f: Any, value: Any) -> Any:
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        return to_data(value)
    if f.type == FieldDescriptor.TYPE_ENUM:
        return f.enum_type.values_by_number[value].name if value in f.enum_type.values_by_number else value
    return value


def friendly_errors(fn: F) -> F:
    """Turn SDK and input errors into one clear line on stderr and exit status 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AlcorError as e:
            raise click.ClickException(f"{e.code.name.lower()}: {e}") from None
        except ValueError as e:
            raise click.ClickException(str(e)) from None

    return wrapper  # type: ignore[return-value]


endpoints_option = click.option(
    "--endpoints",
    envvar="ALCOR_ENDPOINTS",
    default="127.0.0.1:6001",
    show_default=True,
    help="Controller API endpoints, host:port[,host:port...] (env ALCOR_ENDPOINTS).",
)
token_option = click.option(
    "--token", envvar="ALCOR_TOKEN", default=None, help="Bearer token (env ALCOR_TOKEN)."
)
output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
