"""CeleryPublisher writes what Celery and kombu would write themselves: the task message as
``as_task_v2`` + ``producer.publish`` makes it and the task-sent event as the event dispatcher
makes it, identical apart from the ids; other transports get ``send_task``."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import redis
from celery import Celery

from worker import names
from worker.app import make_app
from worker.publish import CeleryPublisher

QUEUE = "celery"


def _reference(app: Celery, task_id: str, charge_id: int) -> None:
    """The message and event the way Celery publishes them, one at a time."""
    msg = app.amqp.as_task_v2(task_id, names.CHARGE, args=(charge_id,), kwargs={},
                              create_sent_event=True)  # fmt: skip
    with app.producer_or_acquire() as producer:
        producer.publish(
            msg.body, exchange="", routing_key=QUEUE, serializer="json", delivery_mode=2,
            headers=msg.headers, retry=False, **msg.properties,
        )  # fmt: skip
        event = {**msg.sent_event, "queue": QUEUE, "exchange": "", "routing_key": QUEUE}
        app.amqp._event_dispatcher.publish("task-sent", event, producer, retry=False)


def _anonymous(text: str, *ids: str) -> str:
    for i, value in enumerate(ids):
        text = text.replace(value, f"<id{i}>")
    return text


def _event(raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    envelope = json.loads(raw)
    body = json.loads(base64.b64decode(envelope.pop("body")))
    envelope["properties"].pop("delivery_tag")
    for volatile in ("clock", "timestamp", "uuid", "root_id"):
        body.pop(volatile)
    return envelope, body


def test_message_and_event_are_the_ones_celery_makes(redis_url: str) -> None:
    app = make_app(broker_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.psubscribe(f"/{redis_url.rsplit('/', 1)[1]}.celeryev/*")
    assert pubsub.get_message(timeout=2)["type"] == "psubscribe"  # type: ignore[index]

    _reference(app, str(uuid.uuid4()), 4321)
    CeleryPublisher(app).charge([4321])

    ours, theirs = client.lrange(QUEUE, 0, -1)  # LPUSH: newest first
    ours_json, theirs_json = json.loads(ours), json.loads(theirs)
    our_ids = (ours_json["headers"]["id"], ours_json["properties"]["delivery_tag"])
    their_ids = (theirs_json["headers"]["id"], theirs_json["properties"]["delivery_tag"])
    assert len(set(our_ids + their_ids)) == 4
    assert _anonymous(ours.decode(), *our_ids) == _anonymous(theirs.decode(), *their_ids)

    raw_events = []
    while len(raw_events) < 2 and (message := pubsub.get_message(timeout=5)) is not None:
        if message["type"] == "pmessage":
            raw_events.append((message["channel"], message["data"]))
    pubsub.close()
    (their_channel, their_event), (our_channel, our_event) = raw_events
    assert (
        our_channel
        == their_channel
        == f"/{redis_url.rsplit('/', 1)[1]}.celeryev/task.sent".encode()
    )
    assert _event(our_event) == _event(their_event)
    assert json.loads(base64.b64decode(json.loads(our_event)["body"]))["uuid"] == our_ids[0]


def test_task_ids_and_delivery_tags_are_unique_uuid4s(redis_url: str) -> None:
    app = make_app(broker_url=redis_url)
    CeleryPublisher(app).charge(list(range(1, 2001)))
    messages = [json.loads(m) for m in redis.Redis.from_url(redis_url).lrange(QUEUE, 0, -1)]
    values = [m["headers"]["id"] for m in messages] + [
        m["properties"]["delivery_tag"] for m in messages
    ]
    assert len(set(values)) == 4000
    assert all(str(uuid.UUID(v)) == v and uuid.UUID(v).version == 4 for v in values)
    assert all(m["headers"]["root_id"] == m["properties"]["correlation_id"] == m["headers"]["id"]
               for m in messages)  # fmt: skip


def test_other_transports_get_send_task() -> None:
    app = make_app(broker_url="memory://")
    CeleryPublisher(app).charge([5, 6, 7])
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(QUEUE, no_ack=True)
        received = [queue.get(timeout=2) for _ in range(3)]
        queue.close()
    assert [(m.headers["task"], m.payload[0]) for m in received] == [
        (names.CHARGE, [5]),
        (names.CHARGE, [6]),
        (names.CHARGE, [7]),
    ]
    assert len({m.headers["id"] for m in received}) == 3
