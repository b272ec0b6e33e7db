"""CeleryPublisher against a real Redis: one well-formed task message per charge, pipelined."""

from __future__ import annotations

import base64
import json

import redis

from worker import names
from worker.app import make_app
from worker.publish import PIPELINE_SIZE, CeleryPublisher


def _decode(raw: bytes) -> tuple[str, list[int]]:
    envelope = json.loads(raw)
    body = json.loads(base64.b64decode(envelope["body"]))
    return envelope["headers"]["task"], body[0]


def test_one_message_per_charge_across_pipeline_flushes(redis_url: str) -> None:
    app = make_app(broker_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    ids = list(range(1, PIPELINE_SIZE * 2 + 7))  # several flushes, and a partial last one
    CeleryPublisher(app).charge(ids)
    CeleryPublisher(app).reconcile([42])
    messages = [_decode(m) for m in client.lrange("celery", 0, -1)]
    charges = sorted(args[0] for task, args in messages if task == names.CHARGE)
    assert charges == ids
    assert [args for task, args in messages if task == names.RECONCILE] == [[42]]
    assert len(messages) == len(ids) + 1


def test_nothing_to_publish_sends_nothing(redis_url: str) -> None:
    CeleryPublisher(make_app(broker_url=redis_url)).charge([])
    assert redis.Redis.from_url(redis_url).llen("celery") == 0
