"""AWS's wire protocols, served from botocore's own service models.

One protocol layer for every service the runtime answers: a request is told apart from the
app's own routes by its signature and target headers (`protocols.identify`), parsed into the
operation's input as boto3 would have given it (`parse`), checked against the model's
constraints (`constraints`), handed to the service's operation (each service's ``wire.py``
registers its own in an `Operations` table), and the result or the error is written back as
the protocol has it (`serialize`). Nothing here knows a service's semantics.
"""

from sluiceway.core.wire.errors import WireError
from sluiceway.core.wire.operations import Call, Caller, Operations

__all__ = ["Call", "Caller", "Operations", "WireError"]
