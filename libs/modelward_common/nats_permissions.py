"""NATS users and least-privilege permissions for the two services and read-only subscribers.

Each service may publish only its own event subjects and the JetStream API requests that its
relay and its durable pull consumer send, and no other user may publish the event subjects.
The permissions name the requests that nats-py 2.16 sends, checked against nats-server 2.15 in
tests/e2e/test_nats_permissions.py:

- relay: `STREAM.INFO.<own stream>`, `STREAM.CREATE.<own stream>` (once, when it is missing),
  `STREAM.MSG.GET.<own stream>` (the stream's last event, when it takes the lease), then a
  publish on the event subject, whose JetStream ack comes back on `_INBOX.>`;
- consumer: `STREAM.INFO.<read stream>`, `CONSUMER.INFO` and `CONSUMER.CREATE.<stream>.<durable>.<filter>`
  (older servers: `CONSUMER.DURABLE.CREATE.<stream>.<durable>`), `CONSUMER.MSG.NEXT.<stream>.<durable>`,
  and acks, naks and terms on `$JS.ACK.<stream>.<durable>.>`.

The same function renders the configuration that `modelward up` writes and
deploy/nats/nats.conf, which docker-compose.yml mounts. Regenerate that file after changing the
permissions with `python -m modelward_common.nats_permissions > deploy/nats/nats.conf`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

SUBSCRIBER_USER = "subscriber"

# Passwords of deploy/nats/nats.conf: references that nats-server resolves from the environment
# that docker-compose.yml gives it.
COMPOSE_PASSWORD_VARIABLES = {
    "registry": "$MODELWARD_NATS_REGISTRY_PASSWORD",
    "governance": "$MODELWARD_NATS_GOVERNANCE_PASSWORD",
    SUBSCRIBER_USER: "$MODELWARD_NATS_SUBSCRIBER_PASSWORD",
}


@dataclass(frozen=True)
class NatsLayout:
    """Subjects, streams and durable consumer names that the services use on NATS."""

    subject_prefix: str = "modelward"
    registry_stream: str = "MODELWARD_REGISTRY"
    governance_stream: str = "MODELWARD_GOVERNANCE"
    # Durable consumer of the registry on the governance stream (promotion decisions).
    registry_durable: str = "registry-promotion-decisions"
    # Durable consumer of governance on the registry stream.
    governance_durable: str = "governance"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # Subjects denied even though an allowed wildcard matches them.
    publish_deny: tuple[str, ...] = ()


def _consume_subjects(stream: str, durable: str) -> list[str]:
    """Return the JetStream API subjects that one durable pull consumer needs."""
    return [
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def _service_permissions(own_subjects: str, own_stream: str, read_stream: str, durable: str) -> Permissions:
    publish = [
        own_subjects,
        f"$JS.API.STREAM.INFO.{own_stream}",
        f"$JS.API.STREAM.CREATE.{own_stream}",
        f"$JS.API.STREAM.MSG.GET.{own_stream}",
    ]
    for subject in _consume_subjects(read_stream, durable):
        if subject not in publish:
            publish.append(subject)
    return Permissions(publish=tuple(publish), subscribe=("_INBOX.>",))


def registry_permissions(layout: NatsLayout) -> Permissions:
    return _service_permissions(
        f"{layout.subject_prefix}.registry.v1.>", layout.registry_stream, layout.governance_stream, layout.registry_durable
    )


def governance_permissions(layout: NatsLayout) -> Permissions:
    return _service_permissions(
        f"{layout.subject_prefix}.governance.v1.>", layout.governance_stream, layout.registry_stream, layout.governance_durable
    )


def subscriber_permissions(layout: NatsLayout) -> Permissions:
    """Read both streams through consumers of its own; publish no event and change no stream.

    `*` in place of the consumer name lets each subscriber create its own durable or ephemeral
    consumers. The services' durable consumers are denied, because a subscriber that pulled,
    acknowledged or reconfigured them would hide events from a service. `$JS.API.INFO` and the
    stream list let client libraries look streams up.
    """
    publish = ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST"]
    for stream in (layout.registry_stream, layout.governance_stream):
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*",
            f"$JS.API.CONSUMER.INFO.{stream}.*",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
        ]
    deny: list[str] = []
    for stream, durable in (
        (layout.governance_stream, layout.registry_durable), (layout.registry_stream, layout.governance_durable)
    ):
        deny += [f"$JS.API.CONSUMER.*.{stream}.{durable}", f"$JS.API.CONSUMER.*.{stream}.{durable}.>"]
        deny += [
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return Permissions(publish=tuple(publish), subscribe=("_INBOX.>",), publish_deny=tuple(deny))


def user_permissions(layout: NatsLayout) -> dict[str, Permissions]:
    """Return the permissions of each user by user name."""
    return {
        "registry": registry_permissions(layout),
        "governance": governance_permissions(layout),
        SUBSCRIBER_USER: subscriber_permissions(layout),
    }


def render_config(layout: NatsLayout, passwords: Mapping[str, str]) -> str:
    """Render the `authorization` block of a nats-server configuration file.

    passwords maps each user name to its password, written as a quoted string, or to a
    `$NAME` reference that nats-server resolves from its environment (docker-compose).
    """
    lines = [
        "# Users and permissions of modelward on NATS, generated by modelward_common.nats_permissions.",
        "# Each service publishes only its own events; 'subscriber' only reads.",
        "authorization {",
        "  users = [",
    ]
    for user, permissions in user_permissions(layout).items():
        password = passwords[user]
        password_value = password if password.startswith("$") else json.dumps(password)
        lines += [
            "    {",
            f"      user: {json.dumps(user)}",
            f"      password: {password_value}",
            "      permissions: {",
            f"        publish: {{allow: {_list(permissions.publish)}, deny: {_list(permissions.publish_deny)}}}",
            f"        subscribe: {{allow: {_list(permissions.subscribe)}}}",
            "      }",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def _list(subjects: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(subject) for subject in subjects) + "]"


if __name__ == "__main__":
    print(render_config(NatsLayout(), COMPOSE_PASSWORD_VARIABLES), end="")
