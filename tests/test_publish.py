"""CeleryPublisher against a real Redis: one well-formed task message per charge, pipelined,
with the task-sent events Flower reads."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from worker import names
from worker.app import make_app
from worker.publish import PIPELINE_SIZE, CeleryPublisher


def _messages(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(m) for m in client.lrange("celery", 0, -1)]


def _task_and_args(envelope: dict[str, Any]) -> tuple[str, list[int]]:
    body = json.loads(base64.b64decode(envelope["body"]))
    return envelope["headers"]["task"], body[0]


def test_one_message_per_charge_across_pipeline_flushes(redis_url: str) -> None:
    app = make_app(broker_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    ids = list(range(1, PIPELINE_SIZE * 2 + 7))  # several flushes, and a partial last one
    CeleryPublisher(app).charge(ids)
    CeleryPublisher(app).reconcile([42])
    messages = [_task_and_args(m) for m in _messages(client)]
    charges = sorted(args[0] for task, args in messages if task == names.CHARGE)
    assert charges == ids
    assert [args for task, args in messages if task == names.RECONCILE] == [[42]]
    assert len(messages) == len(ids) + 1


def test_messages_are_what_send_task_makes(redis_url: str) -> None:
    """Same protocol-2 headers and properties as Celery's own send_task (a worker consumes
    both; the end-to-end tests run real workers on them)."""
    app = make_app(broker_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    app.send_task(names.CHARGE, args=(1,))
    CeleryPublisher(app).charge([2])
    theirs, ours = _messages(client)[::-1]  # LPUSH: newest first
    assert ours["headers"].keys() == theirs["headers"].keys()
    assert ours["properties"].keys() == theirs["properties"].keys()
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]
    for key in ("content-type", "content-encoding"):
        assert ours[key] == theirs[key]
    assert ours["headers"]["argsrepr"] == "(2,)" and ours["headers"]["task"] == names.CHARGE


def test_task_sent_events_are_published(redis_url: str) -> None:
    app = make_app(broker_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    db = redis_url.rsplit("/", 1)[1]
    pubsub.psubscribe(f"/{db}.celeryev/task.*")  # kombu's fanout channel for this db
    assert pubsub.get_message(timeout=2)["type"] == "psubscribe"  # type: ignore[index]
    CeleryPublisher(app).charge([7, 8, 9])
    events = []
    while len(events) < 3 and (msg := pubsub.get_message(timeout=5)) is not None:
        envelope = json.loads(msg["data"])
        events.append(json.loads(base64.b64decode(envelope["body"])))
    pubsub.close()
    assert [(e["type"], e["name"], e["args"]) for e in events] == [
        ("task-sent", names.CHARGE, f"({i},)") for i in (7, 8, 9)
    ]


def test_nothing_to_publish_sends_nothing(redis_url: str) -> None:
    CeleryPublisher(make_app(broker_url=redis_url)).charge([])
    assert redis.Redis.from_url(redis_url).llen("celery") == 0
