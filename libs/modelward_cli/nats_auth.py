"""NATS users of `modelward up`: passwords kept in the data folder and the server config made from them.

Files in the data folder, all mode 0600:

    nats-users.json       password of each NATS user, created on the first start and kept
    nats.conf             nats-server configuration with the users and their permissions,
                          written again on every start from nats-users.json, so a newer
                          modelward's permissions apply to an existing data folder
    nats-subscriber.json  URL, user and password of the read-only `subscriber` user, for
                          notification consumers
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from modelward_common.nats_permissions import SUBSCRIBER_USER, NatsLayout, render_config, user_permissions

logger = logging.getLogger(__name__)

NATS_USERS_FILE = "nats-users.json"
NATS_CONFIG_FILE = "nats.conf"
NATS_SUBSCRIBER_FILE = "nats-subscriber.json"

# Credential variables that `up` clears for the services, so a value in the operator's shell
# cannot replace the user and password that `up` passes.
_CREDENTIAL_VARIABLES = (
    "MODELWARD_NATS_NKEY_SEED_FILE",
    "MODELWARD_NATS_CREDS_FILE",
)


@dataclass(frozen=True)
class NatsAuth:
    config_path: Path
    subscriber_path: Path
    # Password of each user by user name.
    passwords: dict[str, str]
    # Whether this start generated the passwords.
    created: bool

    def service_environment(self, user: str) -> dict[str, str]:
        """Return the environment that makes a service connect as user; the password never goes on a command line."""
        environment = {"MODELWARD_NATS_USER": user, "MODELWARD_NATS_PASSWORD": self.passwords[user]}
        environment.update({name: "" for name in _CREDENTIAL_VARIABLES})
        return environment


def ensure_nats_auth(data_dir: Path, nats_url: str, layout: NatsLayout = NatsLayout()) -> NatsAuth:
    """Create or reuse the NATS passwords in data_dir and write nats.conf and nats-subscriber.json."""
    users_path = data_dir / NATS_USERS_FILE
    passwords = _load_passwords(users_path)
    users = list(user_permissions(layout))
    created = not passwords
    missing = [user for user in users if not passwords.get(user)]
    if missing:
        for user in missing:
            passwords[user] = secrets.token_urlsafe(32)
        write_private_file(users_path, json.dumps({user: passwords[user] for user in users}, indent=2) + "\n")
        logger.info("created NATS passwords for %s in %s", ", ".join(missing), users_path)

    config_path = data_dir / NATS_CONFIG_FILE
    write_private_file(config_path, render_config(layout, passwords))
    subscriber_path = data_dir / NATS_SUBSCRIBER_FILE
    subscriber = {"url": nats_url, "user": SUBSCRIBER_USER, "password": passwords[SUBSCRIBER_USER]}
    write_private_file(subscriber_path, json.dumps(subscriber, indent=2) + "\n")
    return NatsAuth(config_path=config_path, subscriber_path=subscriber_path, passwords=passwords, created=created)


def _load_passwords(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if path.stat().st_mode & 0o077:
        logger.warning("NATS passwords file %s was readable by others; setting its mode to 0600", path)
        path.chmod(0o600)
    try:
        document = json.loads(text)
    except ValueError as error:
        raise OSError(f"{path} is not valid JSON ({error}): delete it to generate new NATS passwords") from error
    if not isinstance(document, dict):
        raise OSError(f"{path} does not contain a JSON object: delete it to generate new NATS passwords")
    return {user: password for user, password in document.items() if isinstance(password, str) and password}


def write_private_file(path: Path, text: str) -> None:
    """Replace path atomically with text, readable and writable by the owner only (mode 0600)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
