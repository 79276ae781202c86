"""Resource names: `models/{model}` and `models/{model}/versions/{version}`."""

from __future__ import annotations

from dataclasses import dataclass

from modelward_common.errors import InvalidArgument
from modelward_registry.domain.validation import MODEL_ID_RULE, check_model_id

# `models/-` in a List request's parent means "every model".
ANY_MODEL = "-"


@dataclass(frozen=True)
class VersionName:
    model_id: str
    version: int


def model_name(model_id: str) -> str:
    return f"models/{model_id}"


def version_name(model_id: str, version: int) -> str:
    return f"models/{model_id}/versions/{version}"


def parse_model_name(name: str, field: str = "name", *, allow_any: bool = False) -> str:
    """Return the model id of `models/{model}`; `models/-` only when allow_any is set."""
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "models":
        raise InvalidArgument(field, name, "use the form 'models/{model}', such as 'models/churn'")
    if allow_any and parts[1] == ANY_MODEL:
        return ANY_MODEL
    try:
        return check_model_id(parts[1], field)
    except InvalidArgument:
        raise InvalidArgument(field, name, f"the model part must be {MODEL_ID_RULE}") from None


def parse_version_name(name: str, field: str = "name") -> VersionName:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "models" or parts[2] != "versions":
        raise InvalidArgument(field, name, "use the form 'models/{model}/versions/{version}', such as 'models/churn/versions/3'")
    try:
        model_id = check_model_id(parts[1], field)
    except InvalidArgument:
        raise InvalidArgument(field, name, f"the model part must be {MODEL_ID_RULE}") from None
    number = parts[3]
    if not number.isascii() or not number.isdigit() or number.startswith("0") or len(number) > 18:
        raise InvalidArgument(field, name, "the version part must be a positive whole number without leading zeros")
    return VersionName(model_id, int(number))
