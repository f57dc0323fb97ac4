"""The registrations system of seed 003: sign-ups texted a welcome, when they are Indian numbers.

``POST /users`` writes the user straight into the ``Users`` table (API Gateway's PutItem
integration: no function), checked against a request model. The table's stream (new and
old images) feeds the pipe ``Users-to-SMS``, whose filter keeps the seed's records (a phone
starting with ``+91``) and, of those, only new users: Pipes cannot filter on ``eventName``
(the poller adds it), so "new" is said with the data, as an INSERT is the only change without
an ``OldImage``. The pipe's target, ``Registration-SMS``, texts each of them through SNS.

    sluiceway run registrations
    curl -X POST localhost:8080/users -H 'content-type: application/json' \\
         -d '{"id": "u1", "roll": "7", "name": "Asha", "phone": "+919876543210"}'
    sluiceway deliveries --json        # the SMS, its text and status

Where the seed leaves room:

- Posting the same ``id``/``roll`` again updates the user (the route overwrites): that is a
  MODIFY, which the pipe's filter drops, so a retried or corrected sign-up is never texted
  twice.
- A text the function could not send (SNS refused it) is reported by ``eventID``; the pipe
  retries it up to 3 times, then puts a pointer to it on ``Registrations-DLQ``.
"""

from __future__ import annotations

from typing import Any

from sluiceway import App, ValidationError, deserialize_item

app = App("registrations")

users = app.table("Users", partition_key="id", sort_key="roll", stream="NEW_AND_OLD_IMAGES")
failed_texts = app.queue("Registrations-DLQ", message_retention_period=1_209_600)

USER = {
    "type": "object",
    "required": ["id", "roll", "name", "phone"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 128},
        "roll": {"type": "string", "minLength": 1, "maxLength": 64},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$"},
    },
    "additionalProperties": False,
}
app.route("POST", "/users", to=users, model=USER, overwrite=True)

# The seed's pattern, and "only INSERTs" said with the data (see the module's docstring).
NEW_INDIAN_USERS = {
    "dynamodb": {
        "NewImage": {"phone": {"S": [{"prefix": "+91"}]}},
        "OldImage": {"id": {"S": [{"exists": False}]}},
    }
}


@app.function(uses=[app.sms.sends], name="Registration-SMS")
def welcome(event: list[dict[str, Any]], context: Any) -> dict[str, Any]:
    """Text each new user; report the records whose text SNS refused."""
    failures = []
    for record in event:
        user = deserialize_item(record["dynamodb"]["NewImage"])
        try:
            app.sms.publish(
                user["phone"],
                f"Hi {user['name']}, welcome! Your registration {user['roll']} is confirmed.",
            )
        except ValidationError as error:
            print(f"user {user['id']}: no text sent: {error}")
            failures.append({"itemIdentifier": record["eventID"]})
    return {"batchItemFailures": failures}


app.pipe(
    "Users-to-SMS",
    source=users,
    filter=NEW_INDIAN_USERS,
    target=welcome,
    batch_size=10,
    starting_position="TRIM_HORIZON",
    maximum_retry_attempts=3,
    dead_letter=failed_texts,
)
