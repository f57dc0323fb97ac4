"""What a console page is a function of (`Request`) and what it answers (`Response`)."""

from __future__ import annotations

from dataclasses import dataclass, field

_HTML = "text/html; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    params: tuple[str, ...] = ()

    @property
    def htmx(self) -> bool:
        return self.headers.get("hx-request") == "true"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = _HTML
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), "text/plain; charset=utf-8")
