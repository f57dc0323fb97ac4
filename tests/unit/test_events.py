"""Event shapes, field by field against the Lambda console's own templates."""

from __future__ import annotations

from sluiceway.core.events import dynamodb_record, md5_hex, md5_of_message_attributes, sqs_record

# The console's "SQS" test event (template sqs-receive-message), us-east-1.
CONSOLE_SQS_RECORD = {
    "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
    "receiptHandle": "MessageReceiptHandle",
    "body": "Hello from SQS!",
    "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1523232000000",
        "SenderId": "123456789012",
        "ApproximateFirstReceiveTimestamp": "1523232000001",
    },
    "messageAttributes": {},
    "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:MyQueue",
    "awsRegion": "us-east-1",
}

# The second record of the console's "DynamoDB Update" template.
CONSOLE_MODIFY_RECORD = {
    "eventID": "c81e728d9d4c2f636f067f89cc14862c",
    "eventName": "MODIFY",
    "eventVersion": "1.1",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "Keys": {"Id": {"N": "101"}},
        "NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
        "OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
        "ApproximateCreationDateTime": 1428537600,
        "SequenceNumber": "4421584500000000017450439092",
        "SizeBytes": 59,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
    "eventSourceARN": (
        "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream"
        "/stream/2015-06-27T00:48:05.899"
    ),
}


def test_body_md5_matches_sqs() -> None:
    assert md5_hex("Hello from SQS!") == "7b270e59b47ff90a553787216d55d91d"
    assert md5_hex("Test message.") == "e4e68fb7bd0e697a0ae8f1bb342846b3"


def test_sqs_record_equals_the_console_template_field_by_field() -> None:
    record = sqs_record(
        message_id="19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
        receipt_handle="MessageReceiptHandle",
        body="Hello from SQS!",
        attributes=CONSOLE_SQS_RECORD["attributes"],  # type: ignore[arg-type]
        message_attributes=None,
        queue_arn="arn:aws:sqs:us-east-1:123456789012:MyQueue",
        region="us-east-1",
    )
    assert record == CONSOLE_SQS_RECORD
    assert list(record) == list(CONSOLE_SQS_RECORD)


def test_sqs_record_attributes_use_lambdas_lower_camel_spelling() -> None:
    record = sqs_record(
        message_id="m",
        receipt_handle="r",
        body="b",
        attributes={},
        message_attributes={
            "AttributeOne": {"DataType": "String", "StringValue": "Attribute Value"}
        },
        queue_arn="arn",
        region="us-east-2",
    )
    assert record["messageAttributes"] == {
        "AttributeOne": {
            "stringValue": "Attribute Value",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert record["md5OfMessageAttributes"] == md5_of_message_attributes(
        {"AttributeOne": {"DataType": "String", "StringValue": "Attribute Value"}}
    )


def test_md5_of_message_attributes_follows_the_sqs_algorithm() -> None:
    # Computed independently: sorted names, 4-byte big-endian lengths, transport byte 1.
    import hashlib
    import struct

    def part(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    attributes = {
        "b": {"DataType": "Number", "StringValue": "5"},
        "a": {"DataType": "String", "StringValue": "x"},
    }
    expected = hashlib.md5(
        part(b"a")
        + part(b"String")
        + b"\x01"
        + part(b"x")
        + part(b"b")
        + part(b"Number")
        + b"\x01"
        + part(b"5")
    ).hexdigest()
    assert md5_of_message_attributes(attributes) == expected


def test_dynamodb_record_equals_the_console_template_field_by_field() -> None:
    expected = CONSOLE_MODIFY_RECORD
    record = dynamodb_record(
        event_id=expected["eventID"],  # type: ignore[arg-type]
        event_name="MODIFY",
        region="us-east-1",
        stream_arn=expected["eventSourceARN"],  # type: ignore[arg-type]
        created_at=1428537600,
        keys={"Id": {"N": "101"}},
        new_image={"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
        old_image={"Message": {"S": "New item!"}, "Id": {"N": "101"}},
        sequence_number="4421584500000000017450439092",
        size_bytes=59,
        view_type="NEW_AND_OLD_IMAGES",
    )
    assert record == expected
    assert list(record) == list(expected)


def test_view_types_decide_which_images_a_record_carries() -> None:
    def record(view: str, name: str) -> dict[str, object]:
        new = None if name == "REMOVE" else {"k": {"S": "new"}}
        old = None if name == "INSERT" else {"k": {"S": "old"}}
        made = dynamodb_record(
            event_id="e",
            event_name=name,
            region="r",
            stream_arn="a",
            created_at=1,
            keys={"k": {"S": "x"}},
            new_image=new,
            old_image=old,
            sequence_number="1",
            size_bytes=1,
            view_type=view,
        )
        return made["dynamodb"]  # type: ignore[no-any-return]

    assert "NewImage" not in record("KEYS_ONLY", "MODIFY")
    assert "OldImage" not in record("KEYS_ONLY", "MODIFY")
    assert "OldImage" not in record("NEW_IMAGE", "MODIFY")
    assert "NewImage" not in record("OLD_IMAGE", "MODIFY")
    assert "OldImage" not in record("NEW_AND_OLD_IMAGES", "INSERT")
    assert "NewImage" not in record("NEW_AND_OLD_IMAGES", "REMOVE")
    assert {"NewImage", "OldImage"} <= set(record("NEW_AND_OLD_IMAGES", "MODIFY"))
