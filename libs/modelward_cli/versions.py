"""`modelward versions ...` and `modelward aliases ...`: model versions and their aliases."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from google.protobuf import json_format

from modelward_common.arguments import positive_int
from modelward_cli.common import (
    Subparsers, add_actions, add_command, command, key_value, print_fields, print_json,
    print_table, read_text_file, registry_client,
)
from modelward_cli.l10n import timestamp_text
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk import file_digest
from modelward_sdk.names import enum_label


def register(subparsers: Subparsers) -> None:
    actions = add_actions(subparsers, "versions", "register, show, list and change model versions")

    create = add_command(actions, "create", "register a new version of a model, from flags or a file")
    create.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    create.add_argument("--file", type=Path, help="JSON or YAML file with a ModelVersion in protobuf JSON form "
                                                  "(field names as in the protos); flags given add to it (default: none)")
    _add_version_fields(create)
    create.add_argument("--artifact-uri", help="where the artifact lives (default: none)")
    create.add_argument("--artifact-file", type=Path, help="local artifact file: its SHA-256 and size are computed "
                                                           "(default: none)")
    create.add_argument("--artifact-sha256", help="SHA-256 of the artifact, 64 hex digits, when no --artifact-file "
                                                  "is given (default: none)")
    create.add_argument("--format", default="", help="artifact format such as onnx or sklearn (default: none)")
    create.add_argument("--training-data-uri", help="training dataset location (default: none)")
    create.add_argument("--training-data-file", type=Path, help="local training data file whose SHA-256 is computed "
                                                                "(default: none)")
    create.add_argument("--code-commit", help="full commit hash of the training code (default: none)")
    create.add_argument("--code-repository", help="repository of the training code (default: none)")
    create.add_argument("--request-id", help="idempotency key: a rerun with the same key returns the first result "
                                             "(default: a random key per run)")
    create.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    create.set_defaults(handler=_create)

    get = add_command(actions, "get", "show one version")
    get.add_argument("model", metavar="MODEL", help="model id, models/<id>, or a full version name")
    get.add_argument("version", metavar="VERSION", type=positive_int, nargs="?", help="version number")
    get.set_defaults(handler=_get)

    listing = add_command(actions, "list", "list the versions of one model, or of every model with '-'")
    listing.add_argument("model", metavar="MODEL", nargs="?", default="-", help="model id or models/<id> "
                                                                               "(default: %(default)s, every model)")
    listing.add_argument("--filter", default="", help="filter, such as 'metrics.auc > 0.8' (default: none)")
    listing.add_argument("--order-by", default="", help="fields with optional 'desc' (default: the service's order)")
    listing.add_argument("--page-size", type=positive_int, default=100, metavar="N",
                         help="versions fetched per call; all pages are listed (default: %(default)s)")
    listing.set_defaults(handler=_list)

    update = add_command(actions, "update", "change a version's mutable fields; artifact and lineage are immutable")
    update.add_argument("name", metavar="VERSION_NAME", help="models/<id>/versions/<n>")
    _add_version_fields(update)
    update.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    update.set_defaults(handler=_update)

    aliases = add_actions(subparsers, "aliases", "point names such as champion at versions, and resolve them")
    set_alias = add_command(aliases, "set", "point an alias at a version, moving it from any other version")
    set_alias.add_argument("name", metavar="VERSION_NAME", help="models/<id>/versions/<n>")
    set_alias.add_argument("alias", metavar="ALIAS", help="1-64 lowercase letters, digits, '_' and '-'")
    set_alias.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    set_alias.set_defaults(handler=_set_alias)
    delete_alias = add_command(aliases, "delete", "remove an alias from a model")
    delete_alias.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    delete_alias.add_argument("alias", metavar="ALIAS", help="alias to remove")
    delete_alias.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    delete_alias.set_defaults(handler=_delete_alias)
    resolve = add_command(aliases, "resolve", "show the version an alias points to")
    resolve.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    resolve.add_argument("alias", metavar="ALIAS", help="alias to resolve")
    resolve.set_defaults(handler=_resolve)


def _add_version_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--description", help="free text (default: none)")
    parser.add_argument("--metric", type=_metric, action="append", metavar="NAME=VALUE",
                        help="a metric measured on --split; repeat for more (default: none)")
    parser.add_argument("--split", default="test", help="dataset split of the --metric values (default: %(default)s)")
    parser.add_argument("--param", type=key_value, action="append", metavar="NAME=VALUE",
                        help="a hyperparameter, stored as text; repeat for more (default: none)")
    parser.add_argument("--feature", action="append", metavar="NAME",
                        help="an input feature name, in model order; repeat for more (default: none)")
    parser.add_argument("--tag", type=key_value, action="append", metavar="KEY=VALUE",
                        help="a tag; repeat for more (default: none)")


def _metric(text: str) -> tuple[str, float]:
    name, value = key_value(text)
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"metric {name!r} has value {value!r}, which is not a number") from None


def read_version_file(path: Path) -> res.ModelVersion:
    """Parse a ModelVersion from JSON or YAML in protobuf's JSON form; raise ValueError naming the file."""
    text = read_text_file(path)
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} must hold a mapping of ModelVersion fields, such as 'artifact' and 'metrics'")
    try:
        return json_format.ParseDict(document, res.ModelVersion())
    except json_format.ParseError as error:
        raise ValueError(f"{path}: {error}") from None


@command
def _create(args: argparse.Namespace) -> None:
    template = read_version_file(args.file) if args.file else None
    artifact = _artifact(args)
    lineage = _lineage(args, template)
    with registry_client(args) as registry:
        version = registry.create_model_version(
            args.model, template=template, artifact=artifact, lineage=lineage, description=args.description or "",
            metrics=dict(args.metric or []), dataset_split=args.split, hyperparameters=dict(args.param or []),
            feature_names=args.feature or [], tags=dict(args.tag or []), request_id=args.request_id,
            reason=args.reason,
        )
    _show(version, args.output)


def _artifact(args: argparse.Namespace) -> res.Artifact | None:
    if not (args.artifact_uri or args.artifact_file or args.artifact_sha256):
        return None
    artifact = res.Artifact(uri=args.artifact_uri or "", format=args.format, sha256=args.artifact_sha256 or "")
    if args.artifact_file:
        artifact.sha256 = file_digest(args.artifact_file)
        artifact.size_bytes = args.artifact_file.stat().st_size
        artifact.uri = artifact.uri or args.artifact_file.resolve().as_uri()
    return artifact


def _lineage(args: argparse.Namespace, template: res.ModelVersion | None) -> res.Lineage | None:
    if not (args.training_data_uri or args.training_data_file or args.code_commit or args.code_repository):
        return None
    lineage = res.Lineage()
    if template is not None:
        lineage.CopyFrom(template.lineage)
    if args.training_data_file:
        lineage.training_dataset.sha256 = file_digest(args.training_data_file)
        lineage.training_dataset.uri = args.training_data_file.resolve().as_uri()
    if args.training_data_uri:
        lineage.training_dataset.uri = args.training_data_uri
    lineage.code_commit = args.code_commit or lineage.code_commit
    lineage.code_repository = args.code_repository or lineage.code_repository
    return lineage


@command
def _get(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.get_model_version(args.model, args.version), args.output)


@command
def _list(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        versions = list(registry.list_model_versions(
            args.model, filter=args.filter, order_by=args.order_by, page_size=args.page_size,
        ))
    if args.output == "json":
        print_json(versions)
        return
    print_table(
        ["VERSION", "STAGE", "PENDING", "ALIASES", "METRICS", "CREATED BY", "CREATED"],
        [[version.name, enum_label(res.Stage, version.stage),
          enum_label(res.Stage, version.pending_stage) if version.pending_stage else "",
          list(version.aliases), [f"{metric.name}={metric.value:.4g}" for metric in version.metrics[:3]],
          version.created_by, timestamp_text(version.create_time)]
         for version in versions],
    )


@command
def _update(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        version = registry.update_model_version(
            args.name, description=args.description, metrics=None if args.metric is None else dict(args.metric),
            dataset_split=args.split, hyperparameters=None if args.param is None else dict(args.param),
            feature_names=args.feature, tags=None if args.tag is None else dict(args.tag), reason=args.reason,
        )
    _show(version, args.output)


@command
def _set_alias(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.set_alias(args.name, args.alias, reason=args.reason), args.output)


@command
def _delete_alias(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        version = registry.delete_alias(args.model, args.alias, reason=args.reason)
    if args.output == "json":
        print_json({"alias": args.alias, "version": version})
    else:
        print(f"deleted alias {args.alias}, which pointed to version {version}")


@command
def _resolve(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.resolve_alias(args.model, args.alias), args.output)


def _show(version: res.ModelVersion, output: str) -> None:
    if output == "json":
        print_json(version)
        return
    lineage = version.lineage
    print_fields([
        ("name", version.name),
        ("stage", enum_label(res.Stage, version.stage)),
        ("pending stage", enum_label(res.Stage, version.pending_stage) if version.pending_stage else ""),
        ("aliases", list(version.aliases)),
        ("description", version.description),
        ("artifact", f"{version.artifact.uri} sha256:{version.artifact.sha256}" if version.artifact.sha256 else ""),
        ("training data", _dataset_text(lineage.training_dataset)),
        ("evaluation data", _dataset_text(lineage.evaluation_dataset)),
        ("code repository", lineage.code_repository),
        ("code commit", lineage.code_commit),
        ("pipeline run", lineage.pipeline_run_id),
        ("parent version", lineage.parent_version or ""),
        ("metrics", [f"{metric.name}={metric.value:.4g} ({metric.dataset_split})" for metric in version.metrics]),
        ("hyperparameters", [f"{key}={value}" for key, value in sorted(version.hyperparameters.items())]),
        ("features", list(version.feature_names)),
        ("tags", [f"{key}={value}" for key, value in sorted(version.tags.items())]),
        ("created by", version.created_by),
        ("created", timestamp_text(version.create_time)),
        ("etag", version.etag),
    ])


def _dataset_text(dataset: res.DatasetRef) -> str:
    """Describe a lineage dataset by whichever of its URI, digest and row count are set."""
    parts = [dataset.uri] if dataset.uri else []
    if dataset.sha256:
        parts.append(f"sha256:{dataset.sha256}")
    if dataset.row_count:
        parts.append(f"{dataset.row_count} rows")
    return " ".join(parts)
