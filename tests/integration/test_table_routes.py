"""Routes straight into a table (API Gateway's PutItem integration), over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import EngineFactory
from sluiceway import App, DeclarationError
from sluiceway.local import Admin, LocalEngine
from support import gateway

USER_MODEL = {
    "type": "object",
    "required": ["id", "roll", "name", "phone"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "roll": {"type": "string", "minLength": 1},
        "name": {"type": "string", "maxLength": 100},
        "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$"},
        "age": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}
ALICE = {"id": "u1", "roll": "7", "name": "Alice", "phone": "+919876543210"}


def users_app(**route: Any) -> App:
    app = App("users")
    users = app.table("Users", partition_key="id", sort_key="roll", stream="NEW_AND_OLD_IMAGES")
    app.route("POST", "/users", to=users, **route)
    return app


def items(engine: LocalEngine) -> list[dict[str, Any]]:
    with Admin(engine.settings.data_dir) as admin:
        return list(admin.scan("Users"))


def stream_events(engine: LocalEngine) -> list[str]:
    cx = engine.store.reader()
    return [row[0] for row in cx.execute("SELECT event_name FROM stream_records ORDER BY seq")]


def test_a_post_stores_the_body_as_the_item_and_answers_its_key(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(users_app(model=USER_MODEL))
    with gateway(engine) as url:
        answer = httpx.post(f"{url}/users", json={**ALICE, "age": 30})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"key": {"id": "u1", "roll": "7"}}
    assert items(engine) == [{**ALICE, "age": 30}]
    assert stream_events(engine) == ["INSERT"]


def test_an_existing_key_is_a_409_and_changes_nothing(make_engine: EngineFactory) -> None:
    engine = make_engine(users_app(model=USER_MODEL))
    with gateway(engine) as url:
        httpx.post(f"{url}/users", json=ALICE)
        again = httpx.post(f"{url}/users", json={**ALICE, "name": "Mallory"})
    assert again.status_code == 409
    assert again.json()["code"] == "ConditionalCheckFailed"
    assert again.json()["key"] == {"id": "u1", "roll": "7"}
    assert items(engine)[0]["name"] == "Alice"
    assert stream_events(engine) == ["INSERT"]


def test_an_overwrite_route_replaces_the_item_and_the_stream_says_modify(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(users_app(model=USER_MODEL, overwrite=True))
    with gateway(engine) as url:
        httpx.post(f"{url}/users", json=ALICE)
        again = httpx.post(f"{url}/users", json={**ALICE, "name": "Alicia"})
    assert again.status_code == 200
    assert items(engine)[0]["name"] == "Alicia"
    assert stream_events(engine) == ["INSERT", "MODIFY"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"id": "u1", "roll": "7", "name": "A"}, ["$.phone: required"]),
        ({**ALICE, "phone": "98765"}, ["$.phone: does not match ^\\+[1-9][0-9]{1,14}$"]),
        ({**ALICE, "age": -1}, ["$.age: must be >= 0"]),
        ({**ALICE, "age": 1.5}, ["$.age: expected integer"]),
        ({**ALICE, "admin": True}, ["$.admin: not allowed (no such property)"]),
        ({"id": 1, "roll": "7", "name": "A"}, ["$.phone: required", "$.id: expected string"]),
    ],
)
def test_a_body_the_model_refuses_is_a_400_naming_every_problem(
    make_engine: EngineFactory, body: dict[str, Any], errors: list[str]
) -> None:
    engine = make_engine(users_app(model=USER_MODEL))
    with gateway(engine) as url:
        answer = httpx.post(f"{url}/users", json=body)
    assert answer.status_code == 400
    assert answer.json() == {
        "message": "Invalid request body",
        "code": "BadRequestBody",
        "errors": errors,
    }
    assert items(engine) == []


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b'{"roll": "7"}', 400, "id"),  # no model: the key is still required
        (b'{"id": 5, "roll": "7"}', 400, "id"),  # a string key
        (b'{"id": "", "roll": "7"}', 400, "id"),  # DynamoDB refuses an empty key
        (b'["not", "an", "object"]', 400, "JSON object"),
        (b"{broken", 400, "not valid JSON"),
    ],
)
def test_without_a_model_the_key_is_still_checked(
    make_engine: EngineFactory, body: bytes, status: int, needle: str
) -> None:
    engine = make_engine(users_app())
    with gateway(engine) as url:
        answer = httpx.post(
            f"{url}/users", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == status
    assert needle in answer.json()["message"]
    assert items(engine) == []


def test_numbers_keep_their_exact_value(make_engine: EngineFactory) -> None:
    engine = make_engine(users_app())
    with gateway(engine) as url:
        httpx.post(
            f"{url}/users",
            content=b'{"id": "u1", "roll": "7", "balance": 0.1, "big": 12345678901234567890}',
            headers={"content-type": "application/json"},
        )
    cx = engine.store.reader()
    (item,) = [json.loads(row[0]) for row in cx.execute("SELECT item FROM items")]
    assert item["balance"] == {"N": "0.1"}
    assert item["big"] == {"N": "12345678901234567890"}


def test_the_cli_send_command_puts_items_too(make_engine: EngineFactory) -> None:
    engine = make_engine(users_app(model=USER_MODEL))
    with Admin(engine.settings.data_dir) as admin:
        assert admin.send("/users", json.dumps(ALICE).encode()) == {
            "key": {"id": "u1", "roll": "7"}
        }
    assert items(engine) == [ALICE]


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ({"model": {"type": "object", "oneOf": []}}, "unsupported keyword"),
        ({"model": {"type": "obj"}}, "type is one of"),
        ({"model": {"properties": {"x": {"pattern": "("}}}}, "does not compile"),
        ({"forward_headers": ["X-Id"]}, "only apply to a queue route"),
    ],
)
def test_a_bad_table_route_is_refused_at_declaration(route: dict[str, Any], reason: str) -> None:
    with pytest.raises(DeclarationError, match=reason):
        users_app(**route)


def test_a_queue_route_takes_no_model() -> None:
    app = App("q")
    with pytest.raises(DeclarationError, match="apply to a table route"):
        app.route("POST", "/x", to=app.queue("q"), model={"type": "object"})
