"""Publishing task messages in batches through one broker connection.

One message per charge, each with its own task id (so Flower, acks and redeliveries stay per
charge), and with ``task_send_sent_event`` on, one task-sent event per message (Flower shows the
task as sent). What a batch shares is the work of making and sending them:

* The message is Celery's own. Once per batch, ``app.amqp.as_task_v2`` (what ``send_task``
  uses) builds a sample message, and kombu's Redis channel turns it into the exact JSON it
  would LPUSH; the task-sent event likewise into the JSON the event dispatcher would PUBLISH.
  That text, with blanks where the sample's task id, argument and delivery tag (and the
  event's clock and timestamp) were, is filled in per charge.
* One pipeline round trip carries one ``LPUSH`` with all the messages (Redis inserts the values
  one after another, as one LPUSH each would) and one ``PUBLISH`` per event.

Measured on the 2-core bench machine: ~21 us of CPU per message with its event (~8 us
without), against ~120 us through ``producer.publish`` in kombu's ``producer.batch()`` and
~1 ms through ``send_task``. Other transports, and Redis connections kombu itself would not
pipeline (automatic retries could replay a batch), get ``send_task`` per message.
"""

from __future__ import annotations

import binascii
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from celery import Celery
from celery.events import Event
from celery.utils.time import utcoffset
from kombu import serialization
from kombu.transport import redis as kombu_redis
from kombu.utils import json

from worker import names

__all__ = ["Publisher", "CeleryPublisher", "RecordingPublisher", "PIPELINE_SIZE"]

#: Messages per pipeline round trip (one LPUSH of them all, plus one PUBLISH per event). Small
#: enough that a publishing thread (ChargeScheduler's publish_behind) reaches socket I/O, and so
#: releases the GIL, every ~2 ms: a thread waiting on it otherwise waits out Python's 5 ms
#: switch interval, at every database round trip of the claim it is running meanwhile.
PIPELINE_SIZE = 100

# Sample values written into the sample message, then replaced by blanks: long and odd enough
# that no other part of a message contains them (checked when the template is made).
_ARG = 31415926535897932
_CLOCK = 27182818284590452
_TIMESTAMP = 1414213562.373095

# kombu's functions carry no annotations.
_serialize = cast(Callable[..., tuple[str, str, str | bytes]], serialization.dumps)
_json = cast(Callable[[Any], str], json.dumps)


class Publisher(Protocol):
    def charge(self, charge_ids: Sequence[int]) -> None:
        """Enqueue ``billbeat.charge`` for each id."""
        ...

    def reconcile(self, charge_ids: Sequence[int]) -> None:
        """Enqueue ``billbeat.reconcile`` for each id."""
        ...


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self._app = app

    def _send(self, task_name: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        app = self._app
        queue = app.amqp.default_queue
        with app.producer_or_acquire() as producer:
            channel = producer.channel
            if not _pipelines(app, channel, queue.name):
                for item in ids:
                    app.send_task(task_name, args=(int(item),), producer=producer)
                return
            producer.maybe_declare(queue)
            template = _Template(app, channel, task_name, queue.name)
            # If a round trip fails, the rows are committed already and the sweeper
            # re-publishes them.
            with channel.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
                for start in range(0, len(ids), PIPELINE_SIZE):
                    template.write(pipe, ids[start : start + PIPELINE_SIZE])
                    pipe.execute()

    def charge(self, charge_ids: Sequence[int]) -> None:
        self._send(names.CHARGE, charge_ids)

    def reconcile(self, charge_ids: Sequence[int]) -> None:
        self._send(names.RECONCILE, charge_ids)


def _pipelines(app: Celery, channel: Any, queue: str) -> bool:
    """Whether messages may be written straight into a Redis pipeline: JSON messages and
    events (the template is text), kombu's Redis channel with base64 bodies, no queue expiry
    (kombu would add PEXPIREs), and no automatic retries (the check of kombu's own
    ``producer.batch()``)."""
    return (
        app.conf.task_serializer == "json"
        and app.conf.event_serializer == "json"
        and isinstance(channel, kombu_redis.Channel)
        and channel.body_encoding == "base64"
        and queue not in channel._expires
        and bool(channel.supports_batch_publish)
    )


class _Template:
    """The Redis commands for one task name's messages, made from one sample message."""

    def __init__(self, app: Celery, channel: Any, task_name: str, queue: str) -> None:
        events = bool(app.conf.task_send_sent_event)
        task_id = _uuid4s(1)[0]
        msg = app.amqp.as_task_v2(task_id, task_name, args=(_ARG,), kwargs={},
                                  create_sent_event=events)  # fmt: skip
        content_type, encoding, body = _serialize(msg.body, serializer=app.conf.task_serializer)
        self.body = _blanks(_text(body), {str(_ARG): "%(arg)d"})
        message = channel.prepare_message(body, 0, content_type, encoding, msg.headers,
                                          {**msg.properties, "delivery_mode": 2})  # fmt: skip
        self.message = _envelope(channel, message, "", queue,
                                 {task_id: "%(id)s", f"({_ARG},)": "(%(arg)d,)"})  # fmt: skip
        self.key = channel._q_for_pri(queue, 0)  # priority 0 is the queue's own list
        self.clock = app.clock
        self.event: _EventTemplate | None = None
        if events and msg.sent_event is not None:
            self.event = _EventTemplate(app, channel, msg.sent_event, queue, task_id)

    def write(self, pipe: Any, ids: Sequence[int]) -> None:
        """Queue one message per id (and its task-sent event) on ``pipe``."""
        body, message, event, clock = self.body, self.message, self.event, self.clock
        uuids = iter(_uuid4s(len(ids) * (2 if event is None else 3)))
        messages = []
        for item in ids:
            arg = int(item)
            task_id = next(uuids)
            fill = {"id": task_id, "arg": arg, "body": _b64(body % {"arg": arg})}
            messages.append(message % {**fill, "tag": next(uuids)})
            if event is not None:
                fields = {"id": task_id, "arg": arg, "clock": clock.forward(), "ts": time.time()}
                text = event.message % {"body": _b64(event.body % fields), "tag": next(uuids)}
                for topic in event.topics:
                    pipe.publish(topic, text)
        pipe.lpush(self.key, *messages)


class _EventTemplate:
    """What ``EventDispatcher.publish`` sends for ``send_task``'s task-sent event."""

    def __init__(
        self, app: Celery, channel: Any, fields: dict[str, Any], queue: str, task_id: str
    ) -> None:
        dispatcher = app.amqp._event_dispatcher
        event = Event("task-sent", hostname=dispatcher.hostname, utcoffset=utcoffset(),
                      pid=dispatcher.pid, clock=_CLOCK, **fields, queue=queue, exchange="",
                      routing_key=queue, timestamp=_TIMESTAMP)  # fmt: skip
        content_type, encoding, body = _serialize(event, serializer=dispatcher.serializer)
        blanks = {str(_ARG): "%(arg)d", task_id: "%(id)s", str(_CLOCK): "%(clock)d",
                  repr(_TIMESTAMP): "%(ts)r"}  # fmt: skip
        self.body = _blanks(_text(body), blanks)
        exchange, routing_key = dispatcher.exchange.name, "task.sent"
        message = channel.prepare_message(body, 0, content_type, encoding, dispatcher.headers,
                                          {"delivery_mode": dispatcher.delivery_mode})  # fmt: skip
        self.message = _envelope(channel, message, exchange, routing_key, {})
        self.topics: list[str] = list(channel._get_publish_topics(exchange, routing_key))


def _envelope(
    channel: Any, message: dict[str, Any], exchange: str, routing_key: str, blanks: dict[str, str]
) -> str:
    """kombu's JSON of a prepared message as ``basic_publish`` completes it (base64 body,
    delivery tag, delivery info), with blanks for the body, the tag and ``blanks``."""
    channel._inplace_augment_message(message, exchange, routing_key)
    own = {message["body"]: "%(body)s", message["properties"]["delivery_tag"]: "%(tag)s"}
    return _blanks(_json(message), own | blanks)


def _blanks(text: str, blanks: dict[str, str]) -> str:
    text = text.replace("%", "%%")
    for sample, blank in blanks.items():
        if sample not in text:  # Celery or kombu changed their message layout
            raise RuntimeError(f"publish: {sample!r} not found in the sample message")
        text = text.replace(sample, blank)
    return text


def _uuid4s(count: int) -> list[str]:
    """``count`` random UUID4 strings, as ``str(uuid.uuid4())`` makes them (the task ids and
    delivery tags), from one ``os.urandom`` call: a quarter of the CPU of ``uuid4()`` each."""
    raw = os.urandom(16 * count).hex()
    return [
        f"{raw[i : i + 8]}-{raw[i + 8 : i + 12]}-4{raw[i + 13 : i + 16]}-"
        f"{'89ab'[int(raw[i + 16], 16) & 3]}{raw[i + 17 : i + 20]}-{raw[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def _text(body: str | bytes) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else body


def _b64(text: str) -> str:
    return binascii.b2a_base64(text.encode("utf-8"), newline=False).decode("ascii")


class RecordingPublisher:
    """Keeps what would have been published (unit tests of the scheduler's decisions)."""

    def __init__(self) -> None:
        self.charges: list[int] = []
        self.reconciles: list[int] = []

    def charge(self, charge_ids: Sequence[int]) -> None:
        self.charges.extend(int(i) for i in charge_ids)

    def reconcile(self, charge_ids: Sequence[int]) -> None:
        self.reconciles.extend(int(i) for i in charge_ids)
