"""SQL of the registry's List methods and history paging."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.errors import InvalidArgument, NotFound
from modelward_registry.adapters.schema import models_table
from modelward_registry.domain.names import model_name

_RESTART = "restart paging without a page_token"


async def stream_id_of(connection: AsyncConnection, model_id: str) -> str:
    uid = await connection.scalar(sa.select(models_table.c.uid).where(models_table.c.model_id == model_id))
    if uid is None:
        raise NotFound(f"model {model_name(model_id)} not found", field="name")
    return str(uid)


def encode_history_token(stream_id: str, after_version: int, key: bytes) -> str:
    body = json.dumps([stream_id, after_version], separators=(",", ":")).encode()
    signature = hmac.new(key, b"history:" + body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(signature + body).decode().rstrip("=")


def decode_history_token(token: str, stream_id: str, key: bytes) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        signature, body = raw[:16], raw[16:]
        expected = hmac.new(key, b"history:" + body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(signature, expected):
            raise ValueError("signature mismatch")
        token_stream, after_version = json.loads(body)
        if token_stream != stream_id or not isinstance(after_version, int) or after_version < 0:
            raise ValueError("token of another model")
    except (ValueError, TypeError) as error:
        raise InvalidArgument("page_token", token, _RESTART) from error
    return after_version
