"""What a route declaration must satisfy: its path's shape, method and forwarded headers."""

from __future__ import annotations

import re

from sluiceway.core.errors import DeclarationError

PATH = re.compile(r"/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?")


_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+|\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")


RESERVED_PATHS = ("/_sluiceway", "/console", "/metrics", "/oauth2", "/.well-known")

# An HTTP API's catch-all route: it answers every request no other route matches.
DEFAULT_ROUTE = "$default"


def route_shape(where: str, path: str) -> str:
    """Check a route's path template ('/orders/{id}', '/files/{path+}') as API Gateway
    would; return its shape ('/orders/{}'), which two routes of one method may not share.
    An HTTP API's ``$default`` route is its own shape."""
    if path == DEFAULT_ROUTE:
        return path
    if not isinstance(path, str) or not path.startswith("/"):
        raise DeclarationError(where, "a path starts with '/'", "e.g. '/orders/{orderID}'")
    segments = [] if path == "/" else path[1:].split("/")
    names: set[str] = set()
    shape = []
    for i, segment in enumerate(segments):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise DeclarationError(
                where,
                f"segment {segment!r} is neither plain (letters, digits, -._~) nor a {{parameter}}",
                "e.g. '/orders/{orderID}' or '/files/{path+}'",
            )
        name, greedy = match.group(1), match.group(2)
        if name is not None:
            if name in names:
                raise DeclarationError(where, f"parameter {name!r} appears twice", "rename one")
            if greedy and i != len(segments) - 1:
                raise DeclarationError(
                    where, f"greedy {{{name}+}} must be the last segment", "move it to the end"
                )
            names.add(name)
            shape.append("{+}" if greedy else "{}")
        else:
            shape.append(segment)
    if any(path == p or path.startswith(p + "/") for p in RESERVED_PATHS):
        raise DeclarationError(
            where,
            "the runtime serves this path itself",
            "choose a path outside " + ", ".join(RESERVED_PATHS),
        )
    return "/" + "/".join(shape)


HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")
