"""Topics invoking functions: SNS's "lambda" protocol.

SNS hands the notification to Lambda as an asynchronous invocation, and Lambda retries a
failing one twice (after about 1 and 2 minutes) before giving up; the delivery outbox keeps
that schedule, and records the final failure where `sluiceway deliveries` shows it. The
function's deferred effects commit with the delivery's outcome. Lambda's own asynchronous
Invoke (``InvocationType=Event``) and the fires of schedules (`awslambda.schedules`) ride
the same outbox, as deliveries of kind ``invoke``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sluiceway.awslambda.invoke import Invoker
from sluiceway.awslambda.spec import FunctionSpec
from sluiceway.core import events, naming
from sluiceway.core.store import Op
from sluiceway.sns import envelopes
from sluiceway.sns.deliveries import Delivered, one_by_one
from sluiceway.sns.email import DeliveryError, Links
from sluiceway.sns.outbox import Job
from sluiceway.sns.signing import Signer

ATTEMPTS = 3  # the invocation and Lambda's two asynchronous retries
RETRY_MS = 60_000


class LambdaCarrier:
    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        invoker: Invoker,
        signer: Signer,
        region: naming.Region,
        links: Callable[[], Links],
    ) -> None:
        self.functions = functions
        self.invoker = invoker
        self.signer = signer
        self.region = region
        self.links = links

    def deliver_all(self, jobs: Sequence[Job]) -> list[Delivered]:
        return one_by_one(jobs, self._deliver)

    def _deliver(self, job: Job) -> Sequence[Op[Any]]:
        function = self.functions.get(job.endpoint)
        if function is None:
            raise DeliveryError(f"no function named '{job.endpoint}'", permanent=True)
        event: Any
        if job.kind == "invoke":  # an asynchronous Invoke, or a schedule's: the event as sent
            assert isinstance(job.message, str)
            event = json.loads(job.message)
        else:
            envelope = envelopes.notification(
                job, region=self.region, signer=self.signer, links=self.links()
            )
            record = events.sns_lambda_record(
                subscription_arn=job.subscription_arn,
                envelope=envelope,
                attributes=None if job.structure == "json" else envelopes.attributes(job),
            )
            event = {"Records": [record]}
        outcome = self.invoker.invoke(function, event)
        if not outcome.ok:
            attempts = job.attempts + 1
            raise DeliveryError(
                f"function '{function.name}' failed: {outcome.error!r}",
                permanent=attempts >= ATTEMPTS,
                retry_in_ms=RETRY_MS * attempts,
            )
        return outcome.deferred

    def recorded(self, job_id: int) -> None:
        return None
