"""The exceptions sluiceway raises, named after the AWS errors they stand for."""

from __future__ import annotations


class SluicewayError(Exception):
    """Base of every error sluiceway raises on purpose."""

    code = "SluicewayError"


class DeclarationError(SluicewayError):
    """An app declaration is invalid. Raised when the declaration is made (at import)."""

    code = "InvalidDeclaration"

    def __init__(self, resource: str, problem: str, fix: str) -> None:
        self.resource = resource
        self.problem = problem
        self.fix = fix
        super().__init__(f"{resource}: {problem}. Fix: {fix}")


class ValidationError(SluicewayError):
    """A request has a value AWS would reject (the `ValidationException` family)."""

    code = "ValidationException"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message)


class AccessDenied(SluicewayError):
    """A function called a resource outside its `uses=` (what IAM would deny on AWS)."""

    code = "AccessDeniedException"

    def __init__(self, function: str, action: str, resource: str, fix: str) -> None:
        self.function = function
        self.action = action
        self.resource = resource
        super().__init__(
            f"function '{function}' is not authorized to perform {action} on {resource}. Fix: {fix}"
        )


class ConditionalCheckFailed(SluicewayError):
    """A conditional write found the item in a state the condition excludes."""

    code = "ConditionalCheckFailedException"


class NotFound(SluicewayError):
    """A named resource, message or delivery does not exist."""

    code = "ResourceNotFoundException"


class NotBound(SluicewayError):
    """A resource handle was used before the app was bound to an engine."""

    code = "NotBound"


class RenderError(SluicewayError):
    """An app cannot be rendered into a template (two names that collide, an app that is not
    importable in Lambda, an output directory that is not ours)."""

    code = "RenderError"
