"""What a template that cannot run locally raises: the logical id, the problem, the fix."""

from __future__ import annotations

from sluiceway.core.errors import SluicewayError


class TemplateError(SluicewayError):
    """A template cannot be run: a bad intrinsic, a missing parameter, a resource sluiceway
    does not emulate but the app needs, a runtime other than Python. Raised before anything
    starts, naming where (``resource 'MyQueue' (AWS::SQS::Queue)``) and the fix."""

    code = "TemplateError"

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{where}: {problem}. Fix: {fix}")
