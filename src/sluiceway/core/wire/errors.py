"""`WireError`: an AWS error answer (its code, message, HTTP status and extra fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class WireError(Exception):
    """An error as AWS answers it: ``code`` is the error shape's name as the model has it
    (``ConditionalCheckFailedException``, ``QueueDoesNotExist``, ``NotFound``); the status
    comes from the model's error shape unless given. ``fields`` are the shape's other
    members (DynamoDB's ``Item``, ``CancellationReasons``)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        sender: bool = True,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender
        self.fields = dict(fields or {})

    def __repr__(self) -> str:
        return f"WireError({self.code!r}, {self.message!r})"


def validation(message: str) -> WireError:
    return WireError("ValidationException", message)


def serialization(message: str) -> WireError:
    return WireError("SerializationException", message)
