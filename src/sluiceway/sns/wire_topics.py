"""SNS's topic operations: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes and
the tags (TagResource, UntagResource, ListTagsForResource)."""

from __future__ import annotations

import json
from typing import Any

from sluiceway.core import naming
from sluiceway.core.wire import Call, WireError
from sluiceway.sns import catalog
from sluiceway.sns.info import TopicInfo
from sluiceway.sns.wire_common import (
    SnsEngine,
    operation,
    page,
    tags_of,
    topic_name,
    topic_of,
)

_DELIVERY_POLICY = {
    "http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20,
            "maxDelayTarget": 20,
            "numRetries": 3,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": "linear",
        },
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}


def default_policy(call: Call, arn: str) -> str:
    """The access policy SNS gives a topic it creates: the owner's account may do all."""
    account = call.region.account_id
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        },
        separators=(",", ":"),
    )


@operation("CreateTopic")
def create_topic(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Name"]
    arn = naming.topic_arn(call.region, name)
    call.require_admin("sns:CreateTopic", arn)
    attributes = dict(params.get("Attributes") or {})
    tags = tags_of(params.get("Tags") or [])
    created = engine.store.write(lambda tx: catalog.create(tx, name, attributes, tags))
    if created:
        engine.refresh_registry()
    return {"TopicArn": arn}


@operation("DeleteTopic")
def delete_topic(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = topic_name(call, params["TopicArn"])
    call.authorize("topic", name, "sns:DeleteTopic", params["TopicArn"])
    if name in engine.registry.topics:
        engine.store.write(lambda tx: catalog.delete(tx, name))
        engine.refresh_registry()
    return {}


@operation("ListTopics")
def list_topics(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.require_admin("sns:ListTopics", naming.topic_arn(call.region, "*"))
    names = catalog.names(engine.store.reader())
    chunk, token = page(names, params.get("NextToken"))
    answer: dict[str, Any] = {
        "Topics": [{"TopicArn": naming.topic_arn(call.region, name)} for name in chunk]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


@operation("GetTopicAttributes")
def get_topic_attributes(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = topic_of(engine, call, params["TopicArn"])
    call.authorize("topic", topic.name, "sns:GetTopicAttributes", topic.arn)
    cx = engine.store.reader()
    found = catalog.stored(cx, topic.name)
    stored = found.attributes if found is not None else {}
    attributes: dict[str, str] = {
        "TopicArn": topic.arn,
        "Owner": call.region.account_id,
        "Policy": default_policy(call, topic.arn),
        "DisplayName": "",
        "EffectiveDeliveryPolicy": json.dumps(_DELIVERY_POLICY, separators=(",", ":")),
        **{key: str(n) for key, n in catalog.counts(cx, topic.id).items()},
        **stored,
    }
    return {"Attributes": attributes}


@operation("SetTopicAttributes")
def set_topic_attributes(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = topic_of(engine, call, params["TopicArn"])
    call.authorize("topic", topic.name, "sns:SetTopicAttributes", topic.arn)
    name, value = params["AttributeName"], params.get("AttributeValue") or ""
    engine.store.write(lambda tx: catalog.set_attribute(tx, topic.name, name, value))
    return {}


@operation("TagResource")
def tag_resource(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = _tagged(engine, call, params["ResourceArn"])
    call.authorize("topic", topic.name, "sns:TagResource", topic.arn)
    tags = tags_of(params["Tags"])
    engine.store.write(lambda tx: catalog.tag(tx, topic.name, tags))
    return {}


@operation("UntagResource")
def untag_resource(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = _tagged(engine, call, params["ResourceArn"])
    call.authorize("topic", topic.name, "sns:UntagResource", topic.arn)
    keys = list(params["TagKeys"])
    engine.store.write(lambda tx: catalog.untag(tx, topic.name, keys))
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(engine: SnsEngine, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    topic = _tagged(engine, call, params["ResourceArn"])
    call.authorize("topic", topic.name, "sns:ListTagsForResource", topic.arn)
    found = catalog.stored(engine.store.reader(), topic.name)
    tags = found.tags if found is not None else {}
    return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}


def _tagged(engine: SnsEngine, call: Call, arn: str) -> TopicInfo:
    """The topic a tagging call names; SNS answers ResourceNotFound (not NotFound) there."""
    try:
        return topic_of(engine, call, arn, "ResourceArn")
    except WireError as error:
        if error.code == "NotFound":
            raise WireError("ResourceNotFound", "Resource does not exist", status=404) from None
        raise
