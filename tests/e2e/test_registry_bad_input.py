"""Bad input to the registry over real gRPC, on PostgreSQL and SQLite.

Every rejected request must get its exact status code and a message that names the field, the
offending value and the fix. It must also change nothing: the same history sizes and model
states through GetModelHistory and GetModel, and the same number of messages in the
JetStream stream.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.support.auth import bearer, issuer
from tests.support.builders import digest, new_model, new_version
from tests.support.registry import registry_config, running_registry

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
ABORTED = grpc.StatusCode.ABORTED

# The relay polls every 0.2 s and is woken at once by each commit, so an event committed by a
# rejected request would reach the stream within this time.
RELAY_SETTLE_SECONDS = 0.25
STREAM_TIMEOUT_SECONDS = 10.0

MODEL_ID_FIX = "use 1-128 characters of letters, digits"
MODEL_PART_FIX = "the model part must be 1-128 characters"
MODEL_FORM_FIX = "use the form 'models/{model}'"
VERSION_FORM_FIX = "use the form 'models/{model}/versions/{version}'"
VERSION_NUMBER_FIX = "positive whole number without leading zeros"
ALIAS_FIX = "lowercase letters, digits, '_' and '-', starting with a lowercase letter"
PRINCIPAL_FIX = "'user:<email>', 'team:<slug>', 'group:<slug>' or 'service:<slug>'"


def shown(value: object) -> str:
    """Return the start of the value as error messages show it.

    Messages quote a value with repr() and cut one longer than 80 characters to 77 plus '...'.
    """
    return repr(value)[:60]


def fill(pattern: str, length: int) -> str:
    return (pattern * length)[:length]


def mask(*paths: str) -> FieldMask:
    return FieldMask(paths=list(paths))


# --- harness --------------------------------------------------------------------------------


@dataclass
class Harness:
    stub: rpc_grpc.RegistryServiceStub
    js: JetStreamContext
    stream_name: str
    # Current names of the models the test created, so each snapshot covers all of them.
    model_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    models: dict[str, res.Model]
    history_sizes: dict[str, int]
    stream_messages: int


@pytest.fixture
async def harness(database_url, nats_server, nats_prefix, nats_client) -> AsyncIterator[Harness]:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        yield Harness(registry.stub, nats_client.jetstream(), config.stream_name)


async def stream_messages(harness: Harness) -> int:
    try:
        info = await harness.js.stream_info(harness.stream_name)
    except NotFoundError:
        return 0
    return info.state.messages


async def take_snapshot(harness: Harness, *, settle: bool = False) -> Snapshot:
    """Read every known model, its history size and the stream's message count.

    Without `settle`, waits until the relay has published every event in the histories. With it,
    gives the relay time to publish anything new and then counts once.
    """
    models: dict[str, res.Model] = {}
    sizes: dict[str, int] = {}
    for name in harness.model_names:
        models[name] = await harness.stub.GetModel(rpc.GetModelRequest(name=name))
        history = await harness.stub.GetModelHistory(rpc.GetModelHistoryRequest(name=name, page_size=1000))
        sizes[name] = len(history.entries)

    if settle:
        await asyncio.sleep(RELAY_SETTLE_SECONDS)
        return Snapshot(models, sizes, await stream_messages(harness))

    expected = sum(sizes.values())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_TIMEOUT_SECONDS
    count = await stream_messages(harness)
    while count != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
        count = await stream_messages(harness)
    assert count == expected, (
        f"stream {harness.stream_name} has {count} messages but the histories have {expected} events"
    )
    return Snapshot(models, sizes, count)


async def assert_unchanged(harness: Harness, before: Snapshot) -> None:
    after = await take_snapshot(harness, settle=True)
    assert after.history_sizes == before.history_sizes
    assert after.models == before.models
    assert after.stream_messages == before.stream_messages


async def call_error(
    harness: Harness, method: str, request: Message, metadata: Sequence[tuple[str, str]] = ()
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(harness.stub, method)(request, metadata=tuple(metadata))
    return caught.value


async def assert_rejected(
    harness: Harness,
    method: str,
    request: Message,
    code: grpc.StatusCode,
    *fragments: str,
    metadata: Sequence[tuple[str, str]] = (),
) -> str:
    """Call `method`, expect `code` with every fragment in the message, and expect no change."""
    before = await take_snapshot(harness)
    error = await call_error(harness, method, request, metadata)
    details = error.details() or ""
    assert error.code() == code, details
    for fragment in fragments:
        assert fragment in details
    await assert_unchanged(harness, before)
    return details


async def create_model(harness: Harness, model_id: str = "churn", **fields: object) -> res.Model:
    model = await harness.stub.CreateModel(new_model(model_id, **fields))
    harness.model_names.append(model.name)
    return model


async def create_version(
    harness: Harness, model_id: str = "churn", seed: str = "one", **options: object
) -> res.ModelVersion:
    return await harness.stub.CreateModelVersion(new_version(model_id, seed=seed, **options))


async def seed_churn(harness: Harness) -> tuple[res.Model, res.ModelVersion]:
    """Create model `churn` with version 1 and return both as they are now."""
    await create_model(harness)
    version = await create_version(harness)
    model = await harness.stub.GetModel(rpc.GetModelRequest(name="models/churn"))
    return model, version


async def history_types(harness: Harness, name: str) -> list[str]:
    history = await harness.stub.GetModelHistory(rpc.GetModelHistoryRequest(name=name, page_size=1000))
    return [entry.type for entry in history.entries]


# --- model names ----------------------------------------------------------------------------

BAD_MODEL_IDS = {
    "leading-space": " churn",
    "trailing-space": "churn ",
    "trailing-newline": "churn\n",
    "slash": "fraud/churn",
    "percent": "churn%20v2",
    "colon": "churn:v2",
    "empty": "",
    "leading-dot": ".churn",
    "leading-dash": "-churn",
    "leading-underscore": "_churn",
    "non-ascii": "chürn",
    "129-characters": "a" * 129,
}


@pytest.mark.parametrize("model_id", BAD_MODEL_IDS.values(), ids=BAD_MODEL_IDS.keys())
async def test_create_model_bad_id(harness, model_id) -> None:
    await create_model(harness, "fraud")

    await assert_rejected(
        harness, "CreateModel", new_model(model_id), INVALID, "model_id", shown(model_id), MODEL_ID_FIX
    )


BAD_MODEL_NAMES = {
    "leading-space": ("models/ churn", MODEL_PART_FIX),
    "trailing-space": ("models/churn ", MODEL_PART_FIX),
    "percent": ("models/churn%2Fv2", MODEL_PART_FIX),
    "colon": ("models/churn:v2", MODEL_PART_FIX),
    "empty-id": ("models/", MODEL_PART_FIX),
    "129-characters": ("models/" + "a" * 129, MODEL_PART_FIX),
    "slash": ("models/fraud/churn", MODEL_FORM_FIX),
    "no-collection": ("churn", MODEL_FORM_FIX),
    "wrong-collection": ("model/churn", MODEL_FORM_FIX),
    "empty": ("", MODEL_FORM_FIX),
}


@pytest.mark.parametrize(("name", "fix"), BAD_MODEL_NAMES.values(), ids=BAD_MODEL_NAMES.keys())
async def test_get_model_bad_name(harness, name, fix) -> None:
    await create_model(harness)

    await assert_rejected(harness, "GetModel", rpc.GetModelRequest(name=name), INVALID, "name", shown(name), fix)


def requests_naming_model(name: str) -> dict[str, tuple[Message, str]]:
    """Return one request per method that takes a model name, with the field that contains it."""
    return {
        "GetModelHistory": (rpc.GetModelHistoryRequest(name=name), "name"),
        "UpdateModel": (
            rpc.UpdateModelRequest(model=res.Model(name=name, description="new"), update_mask=mask("description")),
            "model.name",
        ),
        "RenameModel": (rpc.RenameModelRequest(name=name, new_model_id="churn-v2"), "name"),
        "ArchiveModel": (rpc.ArchiveModelRequest(name=name), "name"),
        "DeleteModel": (rpc.DeleteModelRequest(name=name), "name"),
        "SetModelTags": (rpc.SetModelTagsRequest(name=name, tags={"domain": "payments"}), "name"),
        "DeleteModelTags": (rpc.DeleteModelTagsRequest(name=name, keys=["domain"]), "name"),
        "CreateModelVersion": (
            rpc.CreateModelVersionRequest(parent=name, model_version=new_version("churn").model_version),
            "parent",
        ),
        "ResolveAlias": (rpc.ResolveAliasRequest(model=name, alias="champion"), "model"),
        "DeleteAlias": (rpc.DeleteAliasRequest(model=name, alias="champion"), "model"),
    }


MODEL_NAME_METHODS = list(requests_naming_model("models/churn"))


@pytest.mark.parametrize("method", MODEL_NAME_METHODS)
async def test_model_name_with_space_invalid(harness, method) -> None:
    await seed_churn(harness)
    request, field_name = requests_naming_model("models/ churn")[method]

    await assert_rejected(harness, method, request, INVALID, field_name, shown("models/ churn"), MODEL_PART_FIX)


async def test_rename_bad_new_id(harness) -> None:
    await create_model(harness)

    for new_model_id in ("churn v2", "churn/v2", "a" * 129, ""):
        request = rpc.RenameModelRequest(name="models/churn", new_model_id=new_model_id)
        await assert_rejected(
            harness, "RenameModel", request, INVALID, "new_model_id", shown(new_model_id), MODEL_ID_FIX
        )


async def test_model_id_128_characters_accepted(harness) -> None:
    longest = "A" + "b" * 126 + "9"
    model = await create_model(harness, longest)

    assert model.name == f"models/{longest}"
    assert model.model_id == longest
    read = await harness.stub.GetModel(rpc.GetModelRequest(name=f"models/{longest}"))
    assert read.uid == model.uid
    version = await create_version(harness, longest)
    assert version.name == f"models/{longest}/versions/1"

    renamed_id = "z" * 128
    renamed = await harness.stub.RenameModel(rpc.RenameModelRequest(name=model.name, new_model_id=renamed_id))
    harness.model_names[:] = [renamed.name]
    assert renamed.model_id == renamed_id
    assert await history_types(harness, renamed.name) == ["ModelCreated", "ModelVersionCreated", "ModelRenamed"]
    await take_snapshot(harness)


@pytest.mark.parametrize("model_id", ["Churn", "CHURN", "cHuRn"])
async def test_create_other_case_exists(harness, model_id) -> None:
    await create_model(harness)

    await assert_rejected(
        harness, "CreateModel", new_model(model_id), ALREADY_EXISTS,
        "models/churn", "regardless of case", "choose another model_id",
    )


def requests_for_upper_churn() -> dict[str, Message]:
    return {
        "GetModel": rpc.GetModelRequest(name="models/CHURN"),
        "GetModelHistory": rpc.GetModelHistoryRequest(name="models/CHURN"),
        "GetModelVersion": rpc.GetModelVersionRequest(name="models/CHURN/versions/1"),
        "ResolveAlias": rpc.ResolveAliasRequest(model="models/CHURN", alias="champion"),
        "UpdateModel": rpc.UpdateModelRequest(
            model=res.Model(name="models/CHURN", description="new"), update_mask=mask("description")
        ),
        "RenameModel": rpc.RenameModelRequest(name="models/CHURN", new_model_id="churn-v2"),
        "SetModelTags": rpc.SetModelTagsRequest(name="models/CHURN", tags={"domain": "payments"}),
        "CreateModelVersion": new_version("CHURN", seed="two"),
        "SetAlias": rpc.SetAliasRequest(name="models/CHURN/versions/1", alias="challenger"),
        "TransitionStage": rpc.TransitionStageRequest(name="models/CHURN/versions/1", stage=res.STAGE_STAGING),
    }


@pytest.mark.parametrize("method", list(requests_for_upper_churn()))
async def test_other_case_lookup_not_found(harness, method) -> None:
    await seed_churn(harness)
    await harness.stub.SetAlias(rpc.SetAliasRequest(name="models/churn/versions/1", alias="champion"))

    await assert_rejected(harness, method, requests_for_upper_churn()[method], NOT_FOUND, "models/CHURN", "not found")


async def test_rename_onto_other_case_exists(harness) -> None:
    await create_model(harness)
    await create_model(harness, "fraud")

    for new_model_id in ("Churn", "CHURN"):
        request = rpc.RenameModelRequest(name="models/fraud", new_model_id=new_model_id)
        await assert_rejected(
            harness, "RenameModel", request, ALREADY_EXISTS,
            f"models/{new_model_id}", "regardless of case", "new_model_id",
        )


async def test_rename_to_own_other_case(harness) -> None:
    model, _ = await seed_churn(harness)

    renamed = await harness.stub.RenameModel(rpc.RenameModelRequest(name="models/churn", new_model_id="Churn"))
    harness.model_names[:] = [renamed.name]

    assert renamed.name == "models/Churn"
    assert renamed.uid == model.uid
    read = await harness.stub.GetModel(rpc.GetModelRequest(name="models/Churn"))
    assert read.uid == model.uid
    version = await harness.stub.GetModelVersion(rpc.GetModelVersionRequest(name="models/Churn/versions/1"))
    assert version.version == 1
    old = await call_error(harness, "GetModel", rpc.GetModelRequest(name="models/churn"))
    assert old.code() == NOT_FOUND
    assert await history_types(harness, "models/Churn") == ["ModelCreated", "ModelVersionCreated", "ModelRenamed"]
    await take_snapshot(harness)


async def test_case_variants_created_concurrently(harness) -> None:
    requests = [new_model(model_id) for model_id in ("churn", "Churn", "CHURN", "cHuRn")]

    calls = [harness.stub.CreateModel(request) for request in requests]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    created = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert [error.code() for error in errors] == [ALREADY_EXISTS] * 3
    harness.model_names.append(created[0].name)
    assert await history_types(harness, created[0].name) == ["ModelCreated"]
    await take_snapshot(harness)


async def test_rejected_creates_leave_list_unchanged(harness) -> None:
    await create_model(harness)
    before = await harness.stub.ListModels(rpc.ListModelsRequest(show_deleted=True))

    rejections = [
        (new_model(" churn"), INVALID),
        (new_model("Churn"), ALREADY_EXISTS),
        (new_model("fraud", owner="fraud-team"), INVALID),
    ]
    for request, code in rejections:
        error = await call_error(harness, "CreateModel", request)
        assert error.code() == code, error.details()

    after = await harness.stub.ListModels(rpc.ListModelsRequest(show_deleted=True))
    assert [model.name for model in after.models] == ["models/churn"]
    assert after == before


# --- aliases --------------------------------------------------------------------------------

BAD_ALIASES = {
    "uppercase": "Champion",
    "space": "champ ion",
    "65-characters": "a" * 65,
    "empty": "",
    "leading-digit": "1st",
    "leading-dash": "-champion",
    "dot": "champion.v1",
    "trailing-newline": "champion\n",
}


@pytest.mark.parametrize("alias", BAD_ALIASES.values(), ids=BAD_ALIASES.keys())
async def test_set_alias_bad_alias(harness, alias) -> None:
    await seed_churn(harness)
    request = rpc.SetAliasRequest(name="models/churn/versions/1", alias=alias)

    await assert_rejected(harness, "SetAlias", request, INVALID, "alias", shown(alias), ALIAS_FIX)


async def test_alias_lookups_bad_alias(harness) -> None:
    await seed_churn(harness)
    await harness.stub.SetAlias(rpc.SetAliasRequest(name="models/churn/versions/1", alias="champion"))

    for alias in ("Champion", "champ ion", "a" * 65, ""):
        resolve = rpc.ResolveAliasRequest(model="models/churn", alias=alias)
        await assert_rejected(harness, "ResolveAlias", resolve, INVALID, "alias", shown(alias), ALIAS_FIX)
        delete = rpc.DeleteAliasRequest(model="models/churn", alias=alias)
        await assert_rejected(harness, "DeleteAlias", delete, INVALID, "alias", shown(alias), ALIAS_FIX)


async def test_alias_64_characters_accepted(harness) -> None:
    await seed_churn(harness)
    alias = "a" + "b-_9" * 15 + "xyz"

    assert len(alias) == 64
    version = await harness.stub.SetAlias(rpc.SetAliasRequest(name="models/churn/versions/1", alias=alias))
    assert list(version.aliases) == [alias]
    resolved = await harness.stub.ResolveAlias(rpc.ResolveAliasRequest(model="models/churn", alias=alias))
    assert resolved.version == 1
    await take_snapshot(harness)


# --- tags -----------------------------------------------------------------------------------

# Keys of 128 and values of 512 characters, in scripts of 2, 3 and 4 bytes per character in
# UTF-8. The last value ends in "e" plus a combining accent, which counts as two characters.
TAGS_AT_LIMIT = {
    "k" * 128: "v" * 512,
    "ç" * 128: "ç" * 512,
    "😀" * 128: "😀" * 512,
    fill("kЖ中ع😀", 128): fill("aЖ中ع😀e\u0301", 512),
}
TAG_CHANNELS = [
    "CreateModel", "SetModelTags", "UpdateModel", "CreateModelVersion", "SetModelVersionTags", "UpdateModelVersion",
]
MODEL_TAG_CHANNELS = ("CreateModel", "SetModelTags", "UpdateModel")


def tag_request(channel: str, tags: dict[str, str]) -> tuple[Message, str]:
    """Return a request that sends `tags` through `channel`, and the field that contains them."""
    if channel == "CreateModel":
        return new_model("tagged", tags=tags), "model.tags"
    if channel == "SetModelTags":
        return rpc.SetModelTagsRequest(name="models/churn", tags=tags), "tags"
    if channel == "UpdateModel":
        model = res.Model(name="models/churn", tags=tags)
        return rpc.UpdateModelRequest(model=model, update_mask=mask("tags")), "model.tags"
    if channel == "UpdateModelVersion":
        version = res.ModelVersion(name="models/churn/versions/1", tags=tags)
        return rpc.UpdateModelVersionRequest(model_version=version, update_mask=mask("tags")), "model_version.tags"
    if channel == "CreateModelVersion":
        request = new_version("churn", seed="tagged", tags=0)
        request.model_version.tags.update(tags)
        return request, "model_version.tags"
    return rpc.SetModelVersionTagsRequest(name="models/churn/versions/1", tags=tags), "tags"


@pytest.mark.parametrize("channel", TAG_CHANNELS)
async def test_tags_at_limit_round_trip(harness, channel) -> None:
    await seed_churn(harness)
    request, _ = tag_request(channel, TAGS_AT_LIMIT)

    response = await getattr(harness.stub, channel)(request)

    if channel in MODEL_TAG_CHANNELS:
        if channel == "CreateModel":
            harness.model_names.append(response.name)
        read = await harness.stub.GetModel(rpc.GetModelRequest(name=response.name))
    else:
        read = await harness.stub.GetModelVersion(rpc.GetModelVersionRequest(name=response.name))
    sent_back = {key: response.tags.get(key) for key in TAGS_AT_LIMIT}
    stored = {key: read.tags.get(key) for key in TAGS_AT_LIMIT}
    assert sent_back == TAGS_AT_LIMIT
    assert stored == TAGS_AT_LIMIT
    assert {key.encode(): value.encode() for key, value in stored.items()} == {
        key.encode(): value.encode() for key, value in TAGS_AT_LIMIT.items()
    }
    await take_snapshot(harness)


TAGS_OVER_LIMIT = {
    "value-513-latin": ("size", "ç" * 513, "[" + repr("size") + "]", "at most 512 characters"),
    "value-513-emoji": ("😀", "😀" * 513, "[" + repr("😀") + "]", "at most 512 characters"),
    "key-129-latin": ("k" * 129, "v", shown("k" * 129), "1-128 characters"),
    "key-129-emoji": ("😀" * 129, "v", shown("😀" * 129), "1-128 characters"),
}


@pytest.mark.parametrize("channel", TAG_CHANNELS)
@pytest.mark.parametrize(("key", "value", "key_shown", "fix"), TAGS_OVER_LIMIT.values(), ids=TAGS_OVER_LIMIT.keys())
async def test_tag_over_limit(harness, channel, key, value, key_shown, fix) -> None:
    await seed_churn(harness)
    request, field_name = tag_request(channel, {**TAGS_AT_LIMIT, key: value})

    await assert_rejected(harness, channel, request, INVALID, field_name, key_shown, fix)


@pytest.mark.parametrize("method", ["DeleteModelTags", "DeleteModelVersionTags"])
@pytest.mark.parametrize("key", ["k" * 129, "", " domain"], ids=["129-characters", "empty", "leading-space"])
async def test_delete_tags_bad_key(harness, method, key) -> None:
    await seed_churn(harness)
    if method == "DeleteModelTags":
        request = rpc.DeleteModelTagsRequest(name="models/churn", keys=[key])
    else:
        request = rpc.DeleteModelVersionTagsRequest(name="models/churn/versions/1", keys=[key])

    await assert_rejected(harness, method, request, INVALID, "keys key", shown(key), "1-128 characters")


# --- versions -------------------------------------------------------------------------------


def requests_naming_version(name: str) -> dict[str, tuple[Message, str]]:
    """Return one request per method that takes a version name, with the field that contains it."""
    return {
        "GetModelVersion": (rpc.GetModelVersionRequest(name=name), "name"),
        "UpdateModelVersion": (
            rpc.UpdateModelVersionRequest(
                model_version=res.ModelVersion(name=name, description="new"), update_mask=mask("description")
            ),
            "model_version.name",
        ),
        "SetModelVersionTags": (rpc.SetModelVersionTagsRequest(name=name, tags={"domain": "payments"}), "name"),
        "DeleteModelVersionTags": (rpc.DeleteModelVersionTagsRequest(name=name, keys=["tag_0"]), "name"),
        "SetAlias": (rpc.SetAliasRequest(name=name, alias="challenger"), "name"),
        "TransitionStage": (rpc.TransitionStageRequest(name=name, stage=res.STAGE_STAGING), "name"),
    }


VERSION_NAME_METHODS = list(requests_naming_version("models/churn/versions/1"))


@pytest.mark.parametrize("method", VERSION_NAME_METHODS)
async def test_version_of_missing_model(harness, method) -> None:
    await seed_churn(harness)
    request, _ = requests_naming_version("models/ghost/versions/1")[method]

    await assert_rejected(harness, method, request, NOT_FOUND, "models/ghost", "not found")


async def test_create_version_missing_model(harness) -> None:
    await seed_churn(harness)

    await assert_rejected(harness, "CreateModelVersion", new_version("ghost"), NOT_FOUND, "models/ghost", "not found")


@pytest.mark.parametrize("method", VERSION_NAME_METHODS)
@pytest.mark.parametrize("number", ["2", "999999999999999999"])
async def test_missing_version_number(harness, method, number) -> None:
    await seed_churn(harness)
    name = f"models/churn/versions/{number}"
    request, _ = requests_naming_version(name)[method]

    await assert_rejected(harness, method, request, NOT_FOUND, name, "not found")


MALFORMED_VERSION_NAMES = {
    "zero": ("models/churn/versions/0", VERSION_NUMBER_FIX),
    "leading-zero": ("models/churn/versions/01", VERSION_NUMBER_FIX),
    "letters": ("models/churn/versions/abc", VERSION_NUMBER_FIX),
    "negative": ("models/churn/versions/-1", VERSION_NUMBER_FIX),
    "plus-sign": ("models/churn/versions/+1", VERSION_NUMBER_FIX),
    "decimal": ("models/churn/versions/1.0", VERSION_NUMBER_FIX),
    "space": ("models/churn/versions/ 1", VERSION_NUMBER_FIX),
    "fullwidth-digit": ("models/churn/versions/１", VERSION_NUMBER_FIX),
    "19-digits": ("models/churn/versions/" + "9" * 19, VERSION_NUMBER_FIX),
    "empty-number": ("models/churn/versions/", VERSION_NUMBER_FIX),
    "empty-model": ("models//versions/1", MODEL_PART_FIX),
    "bad-model": ("models/ churn/versions/1", MODEL_PART_FIX),
    "no-number": ("models/churn/versions", VERSION_FORM_FIX),
    "model-only": ("models/churn", VERSION_FORM_FIX),
    "no-collection": ("churn/versions/1", VERSION_FORM_FIX),
    "wrong-collection": ("models/churn/version/1", VERSION_FORM_FIX),
    "extra-part": ("models/churn/versions/1/aliases", VERSION_FORM_FIX),
    "empty": ("", VERSION_FORM_FIX),
}


@pytest.mark.parametrize(("name", "fix"), MALFORMED_VERSION_NAMES.values(), ids=MALFORMED_VERSION_NAMES.keys())
async def test_get_version_malformed_name(harness, name, fix) -> None:
    await seed_churn(harness)
    request = rpc.GetModelVersionRequest(name=name)

    await assert_rejected(harness, "GetModelVersion", request, INVALID, "name", shown(name), fix)


@pytest.mark.parametrize("method", VERSION_NAME_METHODS)
@pytest.mark.parametrize("name", ["models/churn/versions/0", "models/churn/versions/01", "models/churn/versions/abc"])
async def test_write_malformed_version_name(harness, method, name) -> None:
    await seed_churn(harness)
    request, field_name = requests_naming_version(name)[method]

    await assert_rejected(harness, method, request, INVALID, field_name, shown(name), VERSION_NUMBER_FIX)


# --- etags ----------------------------------------------------------------------------------


async def seed_etags(harness: Harness) -> tuple[res.Model, res.ModelVersion, str, str]:
    """Create churn v1, change v1 once, and return the model, v1 and their stale etags."""
    model, version = await seed_churn(harness)
    stale_model_etag, stale_version_etag = model.etag, version.etag
    change = rpc.SetModelVersionTagsRequest(name=version.name, tags={"domain": "payments"})
    await harness.stub.SetModelVersionTags(change)
    model = await harness.stub.GetModel(rpc.GetModelRequest(name=model.name))
    version = await harness.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
    assert model.etag != stale_model_etag
    assert version.etag != stale_version_etag
    return model, version, stale_model_etag, stale_version_etag


def etag_request(method: str, model_etag: str, version_etag: str) -> Message:
    if method == "UpdateModel":
        return rpc.UpdateModelRequest(
            model=res.Model(name="models/churn", description="new", etag=model_etag), update_mask=mask("description")
        )
    if method == "RenameModel":
        return rpc.RenameModelRequest(name="models/churn", new_model_id="churn-v2", etag=model_etag)
    if method == "UpdateModelVersion":
        return rpc.UpdateModelVersionRequest(
            model_version=res.ModelVersion(name="models/churn/versions/1", description="new", etag=version_etag),
            update_mask=mask("description"),
        )
    return rpc.TransitionStageRequest(name="models/churn/versions/1", stage=res.STAGE_STAGING, etag=version_etag)


ETAG_METHODS = ["UpdateModel", "RenameModel", "UpdateModelVersion", "TransitionStage"]


@pytest.mark.parametrize("method", ETAG_METHODS)
async def test_stale_etag_aborted(harness, method) -> None:
    _, _, stale_model_etag, stale_version_etag = await seed_etags(harness)
    stale = stale_version_etag if method in ("UpdateModelVersion", "TransitionStage") else stale_model_etag

    await assert_rejected(
        harness, method, etag_request(method, stale_model_etag, stale_version_etag), ABORTED,
        f"etag {stale}", "stale", "read it again",
    )


@pytest.mark.parametrize("method", ETAG_METHODS)
async def test_current_etag_accepted(harness, method) -> None:
    model, version, _, _ = await seed_etags(harness)
    before = await take_snapshot(harness)

    response = await getattr(harness.stub, method)(etag_request(method, model.etag, version.etag))

    if method == "RenameModel":
        harness.model_names[:] = [response.name]
    name = harness.model_names[0]
    types = await history_types(harness, name)
    assert len(types) == before.history_sizes["models/churn"] + 1
    assert response.etag != (model.etag if method in ("UpdateModel", "RenameModel") else version.etag)
    await take_snapshot(harness)


ETAG_FIX = "exactly as it was read, a number in double quotes"


def any_etag_request(method: str, etag: str) -> tuple[Message, str]:
    """Return a request of any method that takes an etag, with `etag` in it, and the etag's field."""
    if method == "ArchiveModel":
        return rpc.ArchiveModelRequest(name="models/churn", etag=etag), "etag"
    if method == "DeleteModel":
        return rpc.DeleteModelRequest(name="models/churn", etag=etag), "etag"
    field = {"UpdateModel": "model.etag", "UpdateModelVersion": "model_version.etag"}.get(method, "etag")
    return etag_request(method, etag, etag), field


ALL_ETAG_METHODS = [*ETAG_METHODS, "ArchiveModel", "DeleteModel"]


@pytest.mark.parametrize("method", ALL_ETAG_METHODS)
async def test_malformed_etag_invalid(harness, method) -> None:
    await seed_etags(harness)
    request, field = any_etag_request(method, "W/abc")

    await assert_rejected(harness, method, request, INVALID, f"{field} 'W/abc' is invalid", ETAG_FIX)


MALFORMED_ETAGS = {
    "unquoted": "2",
    "zero": '"0"',
    "leading-zero": '"02"',
    "negative": '"-1"',
    "open-quote": '"2',
    "spaces": '" 2 "',
    "too-long": '"' + "9" * 20 + '"',
}


@pytest.mark.parametrize("etag", MALFORMED_ETAGS.values(), ids=MALFORMED_ETAGS.keys())
async def test_malformed_etag_forms(harness, etag) -> None:
    await seed_etags(harness)
    request, _ = any_etag_request("UpdateModel", etag)

    await assert_rejected(harness, "UpdateModel", request, INVALID, "model.etag", shown(etag), ETAG_FIX)


async def test_malformed_etag_before_not_found(harness) -> None:
    await create_model(harness, "fraud")
    request = rpc.ArchiveModelRequest(name="models/missing", etag="garbage")

    await assert_rejected(harness, "ArchiveModel", request, INVALID, "etag 'garbage'", ETAG_FIX)


@pytest.mark.parametrize("method", ["ArchiveModel", "DeleteModel"])
async def test_stale_etag_aborted_on_archive_and_delete(harness, method) -> None:
    _, _, stale_model_etag, _ = await seed_etags(harness)
    request, _ = any_etag_request(method, stale_model_etag)

    await assert_rejected(harness, method, request, ABORTED, f"etag {stale_model_etag}", "stale")


def rival_etag_request(method: str, model_etag: str, version_etag: str) -> Message:
    """Return a request with the same etags as etag_request() that makes a different change."""
    request = etag_request(method, model_etag, version_etag)
    if isinstance(request, rpc.UpdateModelRequest):
        request.model.description = "other"
    elif isinstance(request, rpc.RenameModelRequest):
        request.new_model_id = "churn-v3"
    elif isinstance(request, rpc.UpdateModelVersionRequest):
        request.model_version.description = "other"
    else:
        request.stage = res.STAGE_PRODUCTION
    return request


@pytest.mark.parametrize("method", ETAG_METHODS)
async def test_same_etag_twice_one_wins(harness, method) -> None:
    model, version, _, _ = await seed_etags(harness)
    first = etag_request(method, model.etag, version.etag)
    second = rival_etag_request(method, model.etag, version.etag)
    # The loser of two renames looks up a name that no longer exists, as it would in sequence.
    loser_code = NOT_FOUND if method == "RenameModel" else ABORTED

    outcomes = await asyncio.gather(
        getattr(harness.stub, method)(first), getattr(harness.stub, method)(second), return_exceptions=True
    )

    errors = [outcome for outcome in outcomes if isinstance(outcome, grpc.aio.AioRpcError)]
    winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert len(errors) == 1
    assert errors[0].code() == loser_code, errors[0].details()
    assert len(winners) == 1
    if method == "RenameModel":
        harness.model_names[:] = [winners[0].name]
    types = await history_types(harness, harness.model_names[0])
    assert len(types) == 4
    await take_snapshot(harness)


# --- update masks ---------------------------------------------------------------------------

MODEL_MASKS = {
    "empty": ([], "", "is empty"),
    "unknown": (["bogus"], shown("bogus"), "use paths among"),
    "name": (["name"], shown("name"), "use paths among"),
    "state": (["state"], shown("state"), "use paths among"),
    "one-unknown-of-two": (["description", "bogus"], shown("bogus"), "use paths among"),
}


@pytest.mark.parametrize(("paths", "value", "fix"), MODEL_MASKS.values(), ids=MODEL_MASKS.keys())
async def test_update_model_bad_mask(harness, paths, value, fix) -> None:
    await create_model(harness)
    # The state field is set to show that a path outside the mask is never applied.
    model = res.Model(name="models/churn", description="new", state=res.MODEL_STATE_DELETED)
    request = rpc.UpdateModelRequest(model=model, update_mask=mask(*paths))

    await assert_rejected(harness, "UpdateModel", request, INVALID, "update_mask", value, fix, "description, owner")


VERSION_MASKS = {
    "empty": ([], "", "is empty"),
    "artifact": (["artifact"], shown("artifact"), "create a new version instead"),
    "lineage": (["lineage"], shown("lineage"), "create a new version instead"),
    "artifact-with-description": (["description", "artifact"], shown("artifact"), "create a new version instead"),
    "version": (["version"], shown("version"), "create a new version instead"),
    "stage": (["stage"], shown("stage"), "create a new version instead"),
    "artifact-subfield": (["artifact.uri"], shown("artifact.uri"), "use paths among"),
    "unknown": (["bogus"], shown("bogus"), "use paths among"),
}


@pytest.mark.parametrize(("paths", "value", "fix"), VERSION_MASKS.values(), ids=VERSION_MASKS.keys())
async def test_update_version_bad_mask(harness, paths, value, fix) -> None:
    await seed_churn(harness)
    version = new_version("churn", seed="replacement").model_version
    version.name = "models/churn/versions/1"
    version.description = "new"
    request = rpc.UpdateModelVersionRequest(model_version=version, update_mask=mask(*paths))

    await assert_rejected(harness, "UpdateModelVersion", request, INVALID, "update_mask", value, fix)


# --- new versions ---------------------------------------------------------------------------


def set_artifact(**fields: object):
    def change(version: res.ModelVersion) -> None:
        for name, value in fields.items():
            setattr(version.artifact, name, value)

    return change


def set_first_metric(value: float):
    def change(version: res.ModelVersion) -> None:
        version.metrics[0].value = value

    return change


def add_duplicate_metric(version: res.ModelVersion) -> None:
    version.metrics.append(res.Metric(name="auc", value=0.5, dataset_split="test"))


def duplicate_feature(version: res.ModelVersion) -> None:
    version.feature_names.append("amount")


def set_lineage(**fields: object):
    def change(version: res.ModelVersion) -> None:
        for name, value in fields.items():
            setattr(version.lineage, name, value)

    return change


def set_training_dataset(**fields: object):
    def change(version: res.ModelVersion) -> None:
        for name, value in fields.items():
            setattr(version.lineage.training_dataset, name, value)

    return change


SHA = digest("artifact")
ARTIFACT = "model_version.artifact"
LINEAGE = "model_version.lineage"
METRIC = "model_version.metrics"
HEX_FIX = "64 lowercase hexadecimal"
# Each case: how to spoil a valid version, the field path, the value as shown, and the fix.
BAD_VERSIONS = {
    "missing-uri": (set_artifact(uri=""), f"{ARTIFACT}.uri", "''", "give the URI"),
    "sha256-uppercase": (set_artifact(sha256=SHA.upper()), f"{ARTIFACT}.sha256", shown(SHA.upper()), HEX_FIX),
    "sha256-63-characters": (set_artifact(sha256=SHA[:63]), f"{ARTIFACT}.sha256", shown(SHA[:63]), HEX_FIX),
    "sha256-65-characters": (set_artifact(sha256=SHA + "a"), f"{ARTIFACT}.sha256", shown(SHA + "a"), HEX_FIX),
    "sha256-non-hex": (set_artifact(sha256="g" + SHA[1:]), f"{ARTIFACT}.sha256", shown("g" + SHA[1:]), HEX_FIX),
    "sha256-missing": (set_artifact(sha256=""), f"{ARTIFACT}.sha256", "''", HEX_FIX),
    "size-negative": (set_artifact(size_bytes=-1), f"{ARTIFACT}.size_bytes", "-1", "zero or a positive number"),
    "format-uppercase": (set_artifact(format="ONNX"), f"{ARTIFACT}.format", "'ONNX'", "lowercase format name"),
    "metric-nan": (set_first_metric(math.nan), f"{METRIC}[0].value", "nan", "finite number"),
    "metric-inf": (set_first_metric(math.inf), f"{METRIC}[0].value", "inf", "finite number"),
    "metric-minus-inf": (set_first_metric(-math.inf), f"{METRIC}[0].value", "-inf", "finite number"),
    "metric-duplicate": (add_duplicate_metric, f"{METRIC}[10]", "'auc@test'", "once per dataset_split"),
    "feature-duplicate": (duplicate_feature, "model_version.feature_names", "'amount'", "list each feature once"),
    "parent-beyond-latest": (set_lineage(parent_version=2), f"{LINEAGE}.parent_version", "2", "1 to 1"),
    "parent-negative": (set_lineage(parent_version=-1), f"{LINEAGE}.parent_version", "-1", "or 0 for none"),
    "commit-uppercase": (
        set_lineage(code_commit="A" * 40), f"{LINEAGE}.code_commit", shown("A" * 40), "lowercase hexadecimal"
    ),
    "dataset-sha256-uppercase": (
        set_training_dataset(sha256=SHA.upper()), f"{LINEAGE}.training_dataset.sha256", shown(SHA.upper()), HEX_FIX
    ),
    "dataset-rows-negative": (
        set_training_dataset(row_count=-5), f"{LINEAGE}.training_dataset.row_count", "-5", "zero or a positive"
    ),
}


@pytest.mark.parametrize(("change", "field_path", "value", "fix"), BAD_VERSIONS.values(), ids=BAD_VERSIONS.keys())
async def test_create_version_bad_field(harness, change, field_path, value, fix) -> None:
    await seed_churn(harness)
    request = new_version("churn", seed="two")
    change(request.model_version)

    await assert_rejected(harness, "CreateModelVersion", request, INVALID, field_path, value, fix)


UPDATABLE_BAD_VERSIONS = {
    name: BAD_VERSIONS[name] for name in ("metric-nan", "metric-inf", "metric-duplicate", "feature-duplicate")
}


@pytest.mark.parametrize(
    ("change", "field_path", "value", "fix"), UPDATABLE_BAD_VERSIONS.values(), ids=UPDATABLE_BAD_VERSIONS.keys()
)
async def test_update_version_bad_field(harness, change, field_path, value, fix) -> None:
    await seed_churn(harness)
    version = new_version("churn", seed="one").model_version
    change(version)
    update = res.ModelVersion(
        name="models/churn/versions/1", metrics=version.metrics, feature_names=version.feature_names
    )
    request = rpc.UpdateModelVersionRequest(model_version=update, update_mask=mask("metrics", "feature_names"))

    await assert_rejected(harness, "UpdateModelVersion", request, INVALID, field_path, value, fix)


async def test_create_version_edge_values_accepted(harness) -> None:
    await seed_churn(harness)
    request = new_version("churn", seed="two")
    request.model_version.lineage.parent_version = 1
    request.model_version.metrics.append(res.Metric(name="auc", value=0.8, dataset_split="validation"))
    request.model_version.artifact.size_bytes = 0

    version = await harness.stub.CreateModelVersion(request)

    assert version.version == 2
    assert version.lineage.parent_version == 1
    assert [(metric.name, metric.dataset_split) for metric in version.metrics if metric.name == "auc"] == [
        ("auc", "test"), ("auc", "validation"),
    ]
    await take_snapshot(harness)


# --- request ids ----------------------------------------------------------------------------


async def test_create_version_retry_same_result(harness) -> None:
    await create_model(harness)
    request = new_version("churn", seed="one")
    request.request_id = "run-42"

    first = await harness.stub.CreateModelVersion(request)
    again = await harness.stub.CreateModelVersion(request)

    assert again == first
    assert await history_types(harness, "models/churn") == ["ModelCreated", "ModelVersionCreated"]
    model = await harness.stub.GetModel(rpc.GetModelRequest(name="models/churn"))
    assert model.latest_version == 1
    await take_snapshot(harness)


async def test_create_version_concurrent_retries(harness) -> None:
    await create_model(harness)
    request = new_version("churn", seed="one")
    request.request_id = "run-43"

    responses = await asyncio.gather(*(harness.stub.CreateModelVersion(request) for _ in range(8)))

    assert {response.name for response in responses} == {"models/churn/versions/1"}
    assert await history_types(harness, "models/churn") == ["ModelCreated", "ModelVersionCreated"]
    model = await harness.stub.GetModel(rpc.GetModelRequest(name="models/churn"))
    assert model.latest_version == 1
    missing = await call_error(harness, "GetModelVersion", rpc.GetModelVersionRequest(name="models/churn/versions/2"))
    assert missing.code() == NOT_FOUND
    await take_snapshot(harness)


async def test_create_version_request_id_reused(harness) -> None:
    await create_model(harness)
    first = new_version("churn", seed="one")
    first.request_id = "run-44"
    await harness.stub.CreateModelVersion(first)
    other = new_version("churn", seed="two")
    other.request_id = "run-44"

    await assert_rejected(
        harness, "CreateModelVersion", other, INVALID, "request_id", "'run-44'", "use a new request_id"
    )


async def test_create_model_retry_same_result(harness) -> None:
    request = new_model("churn")
    request.request_id = "create-churn"

    first = await harness.stub.CreateModel(request)
    again = await harness.stub.CreateModel(request)
    harness.model_names.append(first.name)

    assert again == first
    assert await history_types(harness, "models/churn") == ["ModelCreated"]
    await take_snapshot(harness)


async def test_create_model_concurrent_retries(harness) -> None:
    request = new_model("churn")
    request.request_id = "create-churn"

    responses = await asyncio.gather(*(harness.stub.CreateModel(request) for _ in range(8)))
    harness.model_names.append("models/churn")

    assert {response.uid for response in responses} == {responses[0].uid}
    assert {response.name for response in responses} == {"models/churn"}
    assert await history_types(harness, "models/churn") == ["ModelCreated"]
    await take_snapshot(harness)


async def test_create_model_request_id_reused(harness) -> None:
    first = new_model("churn")
    first.request_id = "create-churn"
    await harness.stub.CreateModel(first)
    harness.model_names.append("models/churn")
    other = new_model("fraud")
    other.request_id = "create-churn"

    await assert_rejected(
        harness, "CreateModel", other, INVALID, "request_id", "'create-churn'", "use a new request_id"
    )

    missing = await call_error(harness, "GetModel", rpc.GetModelRequest(name="models/fraud"))
    assert missing.code() == NOT_FOUND


def field_violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """Return the (field, description) pairs of the error's BadRequest details."""
    status = rpc_status.from_call(error)
    assert status is not None
    pairs: list[tuple[str, str]] = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            pairs += [(violation.field, violation.description) for violation in bad_request.field_violations]
    return pairs


async def test_create_version_reports_every_invalid_field(harness) -> None:
    await create_model(harness)
    request = new_version("churn")
    version = request.model_version
    version.artifact.uri = ""
    version.artifact.sha256 = "XYZ"
    version.description = "x" * 5001
    version.metrics[0].value = math.nan
    version.lineage.code_commit = "not-hex"
    version.lineage.parent_version = -1
    before = await take_snapshot(harness)

    error = await call_error(harness, "CreateModelVersion", request)

    assert error.code() == INVALID
    details = error.details() or ""
    assert details.startswith("model_version.artifact.uri '' is missing: give the URI where the artifact is stored")
    expected_fields = [
        "model_version.artifact.uri", "model_version.artifact.sha256", "model_version.description",
        "model_version.metrics[0].value", "model_version.lineage.code_commit", "model_version.lineage.parent_version",
    ]
    assert "also invalid: model_version.artifact.sha256, model_version.description" in details
    violations = field_violations(error)
    assert [field for field, _ in violations] == expected_fields
    assert violations[1][1].startswith("model_version.artifact.sha256 'XYZ' is invalid: give the SHA-256")
    assert "finite number" in violations[3][1]
    await assert_unchanged(harness, before)


async def test_create_version_one_invalid_field(harness) -> None:
    await create_model(harness)
    request = new_version("churn")
    request.model_version.artifact.format = "ONNX!"

    error = await call_error(harness, "CreateModelVersion", request)

    assert error.code() == INVALID
    assert "also invalid" not in (error.details() or "")
    assert [field for field, _ in field_violations(error)] == ["model_version.artifact.format"]


async def test_request_id_too_long(harness) -> None:
    await create_model(harness)
    model_request = new_model("fraud")
    model_request.request_id = "r" * 129
    version_request = new_version("churn")
    version_request.request_id = "r" * 129

    await assert_rejected(
        harness, "CreateModel", model_request, INVALID, "request_id", shown("r" * 129), "at most 128"
    )
    await assert_rejected(
        harness, "CreateModelVersion", version_request, INVALID, "request_id", shown("r" * 129), "at most 128"
    )



async def test_request_id_of_100000_characters(harness) -> None:
    await create_model(harness)
    model_request = new_model("fraud")
    model_request.request_id = "r" * 100_000

    details = await assert_rejected(
        harness, "CreateModel", model_request, INVALID, "request_id", "is too long", "at most 128 printable characters"
    )
    assert len(details) < 300


async def test_request_id_control_character(harness) -> None:
    await create_model(harness)
    version_request = new_version("churn")
    version_request.request_id = "run\n42"

    await assert_rejected(
        harness, "CreateModelVersion", version_request, INVALID, "request_id 'run\\n42'", "control character"
    )


@pytest.mark.parametrize("method", ["CreateModel", "CreateModelVersion", "GetModel"])
async def test_request_id_header_too_long(harness, method) -> None:
    await create_model(harness)
    requests = {
        "CreateModel": new_model("fraud"),
        "CreateModelVersion": new_version("churn"),
        "GetModel": rpc.GetModelRequest(name="models/churn"),
    }

    await assert_rejected(
        harness, method, requests[method], INVALID, "x-request-id metadata", shown("h" * 129), "at most 128",
        metadata=[("x-request-id", "h" * 129)],
    )


# --- model fields and reasons ---------------------------------------------------------------

BAD_MODEL_FIELDS = {
    "owner-no-kind": ("owner", "fraud-team", PRINCIPAL_FIX),
    "owner-unknown-kind": ("owner", "robot:fraud", PRINCIPAL_FIX),
    "owner-space": ("owner", "team: fraud", PRINCIPAL_FIX),
    "owner-trailing-space": ("owner", "user:ana@example.com ", PRINCIPAL_FIX),
    "owner-empty-name": ("owner", "team:", PRINCIPAL_FIX),
    "owner-nul": ("owner", "team:fr\x00aud", PRINCIPAL_FIX),
    "owner-321-characters": ("owner", "user:" + "a" * 316, PRINCIPAL_FIX),
    "risk-tier-99": ("risk_tier", 99, "use LOW, MEDIUM, HIGH or CRITICAL"),
    "risk-tier-negative": ("risk_tier", -1, "use LOW, MEDIUM, HIGH or CRITICAL"),
    "task-type-uppercase": ("task_type", "Binary_Classification", "lowercase letters"),
    "task-type-space": ("task_type", "binary classification", "lowercase letters"),
    "task-type-65-characters": ("task_type", "t" * 65, "lowercase letters"),
    "team-uppercase": ("team", "Fraud", "lowercase letters"),
}


@pytest.mark.parametrize(("field_name", "value", "fix"), BAD_MODEL_FIELDS.values(), ids=BAD_MODEL_FIELDS.keys())
async def test_create_model_bad_field(harness, field_name, value, fix) -> None:
    await create_model(harness)
    request = new_model("fraud")
    setattr(request.model, field_name, value)

    await assert_rejected(harness, "CreateModel", request, INVALID, f"model.{field_name}", shown(value), fix)


@pytest.mark.parametrize(("field_name", "value", "fix"), BAD_MODEL_FIELDS.values(), ids=BAD_MODEL_FIELDS.keys())
async def test_update_model_bad_field(harness, field_name, value, fix) -> None:
    await create_model(harness)
    model = res.Model(name="models/churn")
    setattr(model, field_name, value)
    request = rpc.UpdateModelRequest(model=model, update_mask=mask(field_name))

    await assert_rejected(harness, "UpdateModel", request, INVALID, f"model.{field_name}", shown(value), fix)


async def test_model_fields_at_limit_accepted(harness) -> None:
    owner = "user:" + "a" * 315
    team = "t" * 64
    task_type = "t" * 64

    request = new_model("churn", owner=owner)
    request.model.team = team
    request.model.task_type = task_type

    model = await harness.stub.CreateModel(request)
    harness.model_names.append(model.name)

    assert len(owner) == 320
    assert model.owner == owner
    assert model.team == team
    assert model.task_type == task_type
    read = await harness.stub.GetModel(rpc.GetModelRequest(name=model.name))
    assert read.owner == owner
    await take_snapshot(harness)


def write_requests(reason: str) -> dict[str, tuple[Message, str]]:
    """Return a valid request per write method with `reason`, and the model whose history records it."""
    requests: dict[str, tuple[Message, str]] = {
        "CreateModel": (new_model("other"), "models/other"),
        "UpdateModel": (
            rpc.UpdateModelRequest(
                model=res.Model(name="models/churn", description="new"), update_mask=mask("description")
            ),
            "models/churn",
        ),
        "RenameModel": (rpc.RenameModelRequest(name="models/churn", new_model_id="churn-v2"), "models/churn-v2"),
        "ArchiveModel": (rpc.ArchiveModelRequest(name="models/churn"), "models/churn"),
        "DeleteModel": (rpc.DeleteModelRequest(name="models/churn"), "models/churn"),
        "SetModelTags": (rpc.SetModelTagsRequest(name="models/churn", tags={"domain": "payments"}), "models/churn"),
        "DeleteModelTags": (rpc.DeleteModelTagsRequest(name="models/churn", keys=["team"]), "models/churn"),
        "CreateModelVersion": (new_version("churn", seed="two"), "models/churn"),
        "UpdateModelVersion": (
            rpc.UpdateModelVersionRequest(
                model_version=res.ModelVersion(name="models/churn/versions/1", description="new"),
                update_mask=mask("description"),
            ),
            "models/churn",
        ),
        "SetModelVersionTags": (
            rpc.SetModelVersionTagsRequest(name="models/churn/versions/1", tags={"domain": "payments"}),
            "models/churn",
        ),
        "DeleteModelVersionTags": (
            rpc.DeleteModelVersionTagsRequest(name="models/churn/versions/1", keys=["tag_0"]), "models/churn"
        ),
        "SetAlias": (rpc.SetAliasRequest(name="models/churn/versions/1", alias="challenger"), "models/churn"),
        "DeleteAlias": (rpc.DeleteAliasRequest(model="models/churn", alias="champion"), "models/churn"),
        "TransitionStage": (
            rpc.TransitionStageRequest(name="models/churn/versions/1", stage=res.STAGE_STAGING), "models/churn"
        ),
    }
    for request, _ in requests.values():
        request.reason = reason  # type: ignore[attr-defined]
    return requests


WRITE_METHODS = list(write_requests(""))


async def seed_for_writes(harness: Harness) -> None:
    await create_model(harness, tags={"team": "fraud"})
    await create_version(harness)
    await harness.stub.SetAlias(rpc.SetAliasRequest(name="models/churn/versions/1", alias="champion"))


@pytest.mark.parametrize("method", WRITE_METHODS)
async def test_reason_too_long(harness, method) -> None:
    await seed_for_writes(harness)
    reason = "r" * 2001
    request, _ = write_requests(reason)[method]

    await assert_rejected(harness, method, request, INVALID, "reason", shown(reason), "at most 2000 characters")


@pytest.mark.parametrize("method", WRITE_METHODS)
async def test_reason_with_nul(harness, method) -> None:
    await seed_for_writes(harness)
    reason = "retrained\x00"
    request, _ = write_requests(reason)[method]

    await assert_rejected(harness, method, request, INVALID, "reason", shown(reason), "remove the NUL character")


@pytest.mark.parametrize("method", WRITE_METHODS)
async def test_reason_at_limit_recorded(harness, method) -> None:
    await seed_for_writes(harness)
    reason = fill("ç😀中", 2000)
    request, history_name = write_requests(reason)[method]

    await getattr(harness.stub, method)(request)

    if method == "CreateModel":
        harness.model_names.append(history_name)
    if method == "RenameModel":
        harness.model_names[:] = [history_name]
    history = await harness.stub.GetModelHistory(rpc.GetModelHistoryRequest(name=history_name, page_size=1000))
    assert history.entries[-1].reason == reason
    await take_snapshot(harness)


async def test_token_subject_too_long(harness) -> None:
    await create_model(harness)
    principal = "user:" + "a" * 316

    await assert_rejected(
        harness, "CreateModelVersion", new_version("churn", seed="two"), grpc.StatusCode.UNAUTHENTICATED,
        "claim sub", shown(principal), "at most 320 characters",
        metadata=bearer(issuer().mint(principal)),
    )


@pytest.mark.parametrize("subject", ["", "user:ana example", "robot:r2", "user:tab\there"])
async def test_token_subject_malformed(harness, subject) -> None:
    await create_model(harness)

    details = await assert_rejected(
        harness, "CreateModelVersion", new_version("churn", seed="two"), grpc.StatusCode.UNAUTHENTICATED,
        "claim", metadata=bearer(issuer().mint(subject)),
    )
    assert "sub" in details


# --- versions too large for one NATS message ------------------------------------------------


def with_hyperparameters(request: rpc.CreateModelVersionRequest, count: int) -> rpc.CreateModelVersionRequest:
    """Add `count` hyperparameters of 4,000 characters each, within the per-field limits."""
    for index in range(count):
        request.model_version.hyperparameters[f"weights_{index}"] = fill("0.125,", 4000)
    return request


async def test_version_too_large_for_event(harness) -> None:
    # 400 values of 4,000 characters pass every field limit but make a 1.6 MB event, which a
    # nats-server with its default max_payload (1 MiB) refuses.
    await seed_churn(harness)
    large = with_hyperparameters(new_version("churn", seed="large"), 400)
    details = await assert_rejected(
        harness, "CreateModelVersion", large, grpc.StatusCode.INVALID_ARGUMENT,
        "model_version '1,6", "is too large", "send at most 983,040 bytes",
    )
    assert "NATS" in details
    update = res.ModelVersion(name="models/churn/versions/1", hyperparameters=large.model_version.hyperparameters)
    await assert_rejected(
        harness, "UpdateModelVersion", rpc.UpdateModelVersionRequest(model_version=update, update_mask=mask("hyperparameters")),
        grpc.StatusCode.INVALID_ARGUMENT, "model_version '1,6", "is too large",
    )


async def test_version_under_size_limit_published(harness) -> None:
    await seed_churn(harness)
    near = with_hyperparameters(new_version("churn", seed="near"), 235)
    assert 900_000 < near.model_version.ByteSize() < 960 * 1024
    created = await harness.stub.CreateModelVersion(near)
    assert created.version == 2
    # take_snapshot waits until every event of the history, this one included, is on the stream.
    await take_snapshot(harness)
    after = await harness.stub.CreateModelVersion(new_version("churn", seed="after"))
    assert after.version == 3
    await take_snapshot(harness)
