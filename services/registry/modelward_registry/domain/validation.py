"""Input rules of the registry, each rejected value reported with the field and the fix.

The same rules hold on every storage backend because they run before anything is stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from modelward_common.errors import InvalidArgument
from modelward_common.principals import PRINCIPAL_RULE, canonical_principal, is_valid_principal
# Re-exported: the service layer checks idempotency keys with the registry's other rules.
from modelward_common.request_ids import MAX_REQUEST_ID as MAX_REQUEST_ID, check_request_id as check_request_id

MODEL_ID_RULE = "1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

ALIAS_RULE = "1-64 characters of lowercase letters, digits, '_' and '-', starting with a lowercase letter"
_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,63}")

TEAM_RULE = "1-64 characters of lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
_TEAM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

TASK_TYPE_RULE = "1-64 characters of lowercase letters, digits and '_', starting with a letter"
_TASK_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}")

# Etags are the stream version in double quotes, as model.py and the repository write them.
ETAG_RULE = "send the etag exactly as it was read, a number in double quotes such as '\"3\"', or leave it empty"
_ETAG = re.compile(r'"[1-9][0-9]{0,18}"')

_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_FORMAT = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,31}")

MAX_TAG_KEY = 128
MAX_TAG_VALUE = 512
MAX_TAGS = 100
MAX_ALIASES = 100
MAX_DESCRIPTION = 5000
MAX_URI = 2048
MAX_PARAM_KEY = 256
MAX_PARAM_VALUE = 4096
MAX_PARAMS = 1000
MAX_METRICS = 1000
MAX_METRIC_NAME = 128
MAX_SPLIT = 64
MAX_FEATURES = 10000
MAX_FEATURE_NAME = 256
MAX_REASON = 2000
# A version's event carries the whole version and reaches subscribers as one NATS message. NATS
# refuses messages over its max_payload (1 MiB unless configured otherwise), and a refused event
# would stop every later one, so a version, with room left for the event's headers, stays under
# it. The field limits above allow versions of several MiB.
MAX_VERSION_BYTES = 960 * 1024


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def check_model_id(value: str, field: str = "model_id") -> str:
    if not _MODEL_ID.fullmatch(value):
        raise InvalidArgument(field, value, f"use {MODEL_ID_RULE}")
    return value


def check_alias(value: str, field: str = "alias") -> str:
    if not _ALIAS.fullmatch(value):
        raise InvalidArgument(field, value, f"use {ALIAS_RULE}")
    return value


def check_owner(value: str, field: str = "owner") -> str:
    """Return the canonical form of an owner, or "" for none; raise InvalidArgument when invalid."""
    owner = canonical_principal(value)
    if owner and not is_valid_principal(owner):
        raise InvalidArgument(field, value, f"use {PRINCIPAL_RULE}, or leave it empty")
    return owner


def check_team(value: str, field: str = "team") -> str:
    if value and not _TEAM.fullmatch(value):
        raise InvalidArgument(field, value, f"use {TEAM_RULE}, or leave it empty")
    return value


def check_task_type(value: str, field: str = "task_type") -> str:
    if value and not _TASK_TYPE.fullmatch(value):
        raise InvalidArgument(field, value, f"use {TASK_TYPE_RULE}, such as 'binary_classification'")
    return value


def check_etag(value: str, field: str = "etag") -> str:
    """Reject an etag that the registry never issues, so only a stale etag is ABORTED."""
    if value and not _ETAG.fullmatch(value):
        raise InvalidArgument(field, value, ETAG_RULE)
    return value


def check_text(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidArgument(field, value, f"shorten it to at most {limit} characters", problem="is too long")
    if "\x00" in value:
        raise InvalidArgument(field, value, "remove the NUL character", problem="contains a NUL character")
    return value


def check_tags(tags: Mapping[str, str], field: str = "tags") -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise InvalidArgument(field, f"{len(tags)} tags", f"send at most {MAX_TAGS} tags", problem="has too many entries")
    for key, value in tags.items():
        check_tag_key(key, field)
        if len(value) > MAX_TAG_VALUE:
            raise InvalidArgument(
                f"{field}[{key!r}]", value,
                f"shorten the value to at most {MAX_TAG_VALUE} characters", problem="is too long",
            )
        if "\x00" in value:
            raise InvalidArgument(f"{field}[{key!r}]", value, "remove the NUL character", problem="contains a NUL character")
    return dict(tags)


def check_tag_key(key: str, field: str = "tags") -> str:
    if not key or len(key) > MAX_TAG_KEY or _has_control(key) or key != key.strip():
        raise InvalidArgument(
            f"{field} key", key,
            f"use 1-{MAX_TAG_KEY} characters without control characters or surrounding spaces",
        )
    return key


def check_tag_keys(keys: Iterable[str], field: str = "keys") -> list[str]:
    checked = [check_tag_key(key, field) for key in keys]
    if not checked:
        raise InvalidArgument(field, "[]", "name at least one tag key to delete", problem="is empty")
    return checked


def check_sha256(value: str, field: str, *, required: bool) -> str:
    if not value and not required:
        return value
    if not _SHA256.fullmatch(value):
        raise InvalidArgument(field, value, "give the SHA-256 digest as 64 lowercase hexadecimal characters")
    return value


def check_commit(value: str, field: str) -> str:
    if value and not _COMMIT.fullmatch(value):
        raise InvalidArgument(field, value, "give the commit hash as 7-64 lowercase hexadecimal characters")
    return value


def check_format(value: str, field: str) -> str:
    if value and not _FORMAT.fullmatch(value):
        raise InvalidArgument(field, value, "use a short lowercase format name such as 'onnx', 'sklearn' or 'pytorch'")
    return value


def check_non_negative(value: int, field: str) -> int:
    if value < 0:
        raise InvalidArgument(field, value, "give zero or a positive number")
    return value


def check_string_map(values: Mapping[str, str], field: str, *, key_limit: int, value_limit: int, count_limit: int) -> None:
    if len(values) > count_limit:
        raise InvalidArgument(field, f"{len(values)} entries", f"send at most {count_limit} entries", problem="has too many entries")
    for key, value in values.items():
        if not key or len(key) > key_limit or _has_control(key):
            raise InvalidArgument(f"{field} key", key, f"use 1-{key_limit} characters without control characters")
        if len(value) > value_limit or "\x00" in value:
            raise InvalidArgument(f"{field}[{key!r}]", value, f"use at most {value_limit} characters without NUL")


def check_metric(name: str, value: float, split: str, field: str) -> None:
    if not name or len(name) > MAX_METRIC_NAME or _has_control(name):
        raise InvalidArgument(f"{field}.name", name, f"use 1-{MAX_METRIC_NAME} characters without control characters")
    if not math.isfinite(value):
        raise InvalidArgument(f"{field}.value", value, f"send a finite number for metric {name!r}")
    if len(split) > MAX_SPLIT or _has_control(split):
        raise InvalidArgument(f"{field}.dataset_split", split, f"use at most {MAX_SPLIT} characters")
