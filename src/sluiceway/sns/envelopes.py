"""The signed JSON envelopes SNS wraps notifications in (HTTP/S, SQS, email-json, Lambda)."""

from __future__ import annotations

import json
from typing import Any

from sluiceway.core import events, naming
from sluiceway.sns.email import Links
from sluiceway.sns.outbox import Job
from sluiceway.sns.signing import CERT_PATH, Signer


def notification(
    job: Job, *, region: naming.Region, signer: Signer, links: Links
) -> dict[str, Any]:
    """The signed ``Notification`` envelope of a delivery, as SNS would send it."""
    assert job.message_id is not None
    assert job.published_at is not None
    envelope = events.sns_envelope(
        message_type="Notification",
        message_id=job.message_id,
        topic_arn=naming.topic_arn(region, job.topic),
        message=job.text(),
        timestamp=events.iso_millis(job.published_at),
        signing_cert_url=links.base_url + CERT_PATH,
        subject=job.subject,
        unsubscribe_url=links.unsubscribe(job.subscription_arn, job.token),
        # Message attributes are not sent with MessageStructure=json.
        attributes=None if job.structure == "json" else attributes(job),
    )
    envelope["Signature"] = signer.sign(envelope)
    return envelope


def attributes(job: Job) -> dict[str, dict[str, Any]] | None:
    return None if job.attributes is None else dict(json.loads(job.attributes))
