"""A template's execution role, evaluated as IAM evaluates identity policies."""

from __future__ import annotations

import pytest

from sluiceway.core.errors import DeclarationError
from sluiceway.core.policies import RolePolicy, role_policy

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
TABLE = "arn:aws:dynamodb:us-east-1:000000000000:table/orders"


def policy(*statements: dict[str, object]) -> RolePolicy:
    return role_policy("role", [("role", {"Version": "2012-10-17", "Statement": list(statements)})])


def test_an_allow_matches_actions_case_insensitively_and_resources_with_wildcards() -> None:
    role = policy(
        {"Effect": "Allow", "Action": ["SQS:SendMessage"], "Resource": "arn:aws:sqs:*:*:ord?rs"}
    )
    assert role.allows("sqs:SendMessage", QUEUE)
    assert not role.allows("sqs:ReceiveMessage", QUEUE)
    assert not role.allows("sqs:SendMessage", QUEUE + "-dlq")


def test_an_explicit_deny_wins_over_any_allow() -> None:
    role = policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert role.allows("dynamodb:PutItem", TABLE)
    assert not role.allows("dynamodb:DeleteItem", TABLE)


def test_not_action_and_not_resource_invert_the_match() -> None:
    role = policy(
        {"Effect": "Allow", "NotAction": "sqs:DeleteQueue", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "NotResource": [QUEUE, TABLE]},
    )
    assert role.allows("sqs:SendMessage", QUEUE)
    assert not role.allows("sqs:DeleteQueue", QUEUE)
    assert not role.allows("sqs:SendMessage", QUEUE + "-other")


def test_nothing_is_allowed_without_a_statement_that_allows_it() -> None:
    assert not policy().allows("sqs:SendMessage", QUEUE)


def test_a_statement_on_every_resource_is_reported_as_broad() -> None:
    role = policy(
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE},
    )
    broad = role.broad_statements()
    assert [s.actions for s in broad] == [("iot:*",)]
    assert role.mentions("iot:Publish")
    assert not role.mentions("sns:Publish")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ({"Effect": "Maybe", "Action": "sqs:*", "Resource": "*"}, "Effect 'Maybe'"),
        ({"Effect": "Allow", "Resource": "*"}, "Action is None"),
        ({"Effect": "Allow", "Action": [], "Resource": "*"}, "Action is []"),
        ({"Effect": "Allow", "Action": "sqs:*", "Resource": 7}, "Resource is 7"),
    ],
)
def test_a_document_iam_would_refuse_is_an_error_naming_the_statement(
    statement: dict[str, object], problem: str
) -> None:
    with pytest.raises(DeclarationError, match="statement 0") as error:
        policy(statement)
    assert problem in str(error.value)
