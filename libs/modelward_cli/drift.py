"""`modelward drift report|alerts|upload-reference|report-production`: production monitoring."""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from modelward_common.arguments import positive_float, positive_int
from modelward_cli.common import (
    ProgressBar, Subparsers, add_actions, add_command, command, governance_client, print_error, print_json,
    print_table, read_text_file,
)
from modelward_cli.l10n import timestamp_text
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_sdk import GovernanceClient, version_name
from modelward_sdk.governance import DEFAULT_CHUNK_ROWS
from modelward_sdk.names import enum_choices, enum_label


def register(subparsers: Subparsers) -> None:
    actions = add_actions(subparsers, "drift", "upload monitoring data and read drift reports and alerts")

    report = add_command(actions, "report", "print a version's drift figures, newest window first")
    _add_version(report)
    report.add_argument("--windows", type=positive_int, default=10, metavar="N",
                        help="windows to print (default: %(default)s)")
    report.set_defaults(handler=_report)

    alerts = add_command(actions, "alerts", "list monitoring alerts, newest first")
    alerts.add_argument("--model", default="", help="only this model's alerts (default: every model)")
    alerts.add_argument("--model-version", default="", metavar="VERSION_NAME",
                        help="only this version's alerts, models/<id>/versions/<n> (default: every version)")
    alerts.add_argument("--kind", choices=enum_choices(mon.AlertKind), default=None, help="only this kind (default: all)")
    alerts.add_argument("--state", choices=enum_choices(mon.AlertState), default="open",
                        help="open or resolved (default: %(default)s)")
    alerts.add_argument("--min-severity", choices=enum_choices(gres.Severity), default=None,
                        help="only alerts at least this severe (default: every severity)")
    alerts.set_defaults(handler=_alerts)

    reference = add_command(actions, "upload-reference", "upload a CSV file as a version's reference data")
    _add_version(reference)
    reference.add_argument("file", type=Path, metavar="CSV", help="CSV file with a header row")
    reference.add_argument("--prediction-column", default="", help="column holding the prediction (default: none)")
    reference.add_argument("--label-column", default="", help="column holding the label (default: none)")
    _add_csv_format(reference)
    _add_chunk_rows(reference)
    reference.set_defaults(handler=_upload_reference)

    production = add_command(actions, "report-production", "send rows of a CSV file as a version's production data")
    _add_version(production)
    production.add_argument("file", type=Path, metavar="CSV", help="CSV file with a header row")
    production.add_argument("--request-id-column", default="",
                            help="column of per-row request ids for later labels; it is not sent as a feature "
                                 "(default: none)")
    _add_csv_format(production)
    _add_chunk_rows(production)
    production.set_defaults(handler=_report_production)


def _add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model id, models/<id>, or a full version name")
    parser.add_argument("version", metavar="VERSION", type=positive_int, nargs="?",
                        help="version number, unless MODEL is a full version name")


CSV_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}
DECIMAL_SEPARATORS = {"point": ".", "comma": ","}
CSV_ENCODING_FIX = 'save it as "CSV UTF-8" (in Excel: Save As, then CSV UTF-8)'


def _add_csv_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--delimiter", choices=("auto", *CSV_DELIMITERS), default="auto",
                        help="character between cells; auto reads comma, unless the header row has no comma "
                             "and has a semicolon (then semicolon) or a tab (then tab) (default: %(default)s)")
    parser.add_argument("--decimal", choices=("auto", *DECIMAL_SEPARATORS), default="auto",
                        help="decimal separator of numbers; auto reads comma in semicolon-separated files, "
                             "as Excel writes them where the decimal separator is a comma, and point "
                             "otherwise (default: %(default)s)")


def _add_chunk_rows(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chunk-rows", type=positive_int, default=DEFAULT_CHUNK_ROWS, metavar="ROWS",
                        help="rows per streamed message (default: %(default)s)")
    parser.add_argument("--upload-timeout", type=positive_float, default=600.0, metavar="SECONDS",
                        help="seconds the whole upload may take (default: %(default)s)")


def read_csv_columns(
    path: Path, delimiter: str = "auto", decimal: str = "auto"
) -> dict[str, npt.NDArray[object]]:
    """Read a CSV file into typed columns: int64 when every cell is an integer, float64 when every
    cell is a number, else text. An empty cell is a null.

    The file is read as UTF-8 with an optional byte order mark, which Excel's "CSV UTF-8" writes:
    left in place, it would become part of the first column's name. `delimiter` and `decimal`
    take the names or "auto" that the --delimiter and --decimal options accept."""
    text = read_text_file(path, fix=CSV_ENCODING_FIX).removeprefix("\ufeff")
    separator = _delimiter(text, delimiter)
    if decimal != "auto":
        decimal_separator = DECIMAL_SEPARATORS[decimal]
    else:
        decimal_separator = "," if separator == ";" else "."
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{path} is empty: it needs a header row and data rows") from None
    if not header:
        raise ValueError(f"{path} line 1 is blank: it needs the header row of column names")
    _check_unique_header(path, header)
    cells: list[list[str]] = [[] for _ in header]
    for line_number, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path} line {line_number} has {len(row)} cells for {len(header)} columns, read with "
                f"{_delimiter_name(separator)} between cells; if the file separates cells with another "
                "character, pass --delimiter comma, semicolon or tab"
            )
        for column, cell in zip(cells, row, strict=True):
            column.append(cell)
    if not cells[0]:
        raise ValueError(f"{path} has a header row but no data rows: add at least one row below the header")
    return {name: _typed(values, decimal_separator) for name, values in zip(header, cells, strict=True)}


def _delimiter(text: str, choice: str) -> str:
    """Return the cell separator: the chosen one, or for "auto" the one the header row uses."""
    if choice != "auto":
        return CSV_DELIMITERS[choice]
    header_line = text.split("\n", 1)[0]
    for separator in CSV_DELIMITERS.values():
        if separator in header_line:
            return separator
    return ","


def _delimiter_name(separator: str) -> str:
    return next(name for name, character in CSV_DELIMITERS.items() if character == separator)


def _check_unique_header(path: Path, header: list[str]) -> None:
    """Raise ValueError naming the first column name that the header repeats, because a
    repeated name would silently drop all but the last of its columns."""
    first_position: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in first_position:
            raise ValueError(
                f"{path} header names column {name!r} twice (columns {first_position[name]} and {position}); "
                "rename or remove one of them"
            )
        first_position[name] = position


def check_feature_columns(
    governance: GovernanceClient, name: str, path: Path, columns: Iterable[str], *,
    not_features: Iterable[str] | None = None,
) -> None:
    """Compare a CSV file's columns with the feature_names registered for version `name`.

    Raise ValueError naming the registered features the file lacks. With `not_features` (the
    reference data's prediction and label columns), also warn about columns that are not
    registered features, because the service then monitors them as features. Production files
    get no such warning: their prediction column is named only in the monitoring config, and the
    service checks their columns against the reference data. Nothing is checked when the version
    registers no feature_names or governance does not show it to the caller."""
    model_id, _, number = name.removeprefix("models/").partition("/versions/")
    entries = list(governance.list_portfolio(filter=f'model_id = "{model_id}"', page_size=1))
    versions = [version for entry in entries for version in entry.versions if version.name == name]
    if not versions or not versions[0].feature_names:
        return
    registered = list(versions[0].feature_names)
    present = list(columns)
    missing = [feature for feature in registered if feature not in present]
    if missing:
        raise ValueError(
            f"{path} lacks feature column(s) {', '.join(map(repr, missing))} that version {number} of "
            f"{model_id} registers in feature_names ({', '.join(registered)}); add them to the file"
        )
    if not_features is None:
        return
    skipped = set(not_features)
    extra = [column for column in present if column not in registered and column not in skipped]
    if extra:
        print_error(
            f"warning: {path} has column(s) {', '.join(map(repr, extra))} that are not in the feature_names "
            f"of version {number} of {model_id}, so they are stored and monitored as features too"
        )


def _typed(values: list[str], decimal_separator: str = ".") -> npt.NDArray[object]:
    nulls = np.array([value == "" for value in values], dtype=bool)
    present = [value for value in values if value != ""]
    parse_float = float if decimal_separator == "." else _decimal_comma_float
    for kind, parse in ((np.int64, int), (np.float64, parse_float)):
        try:
            parsed = [parse(value) if value != "" else 0 for value in values]
        except ValueError:
            continue
        if present or kind is np.float64:
            return np.ma.MaskedArray(np.array(parsed, dtype=kind), mask=nulls)
    return np.array([value if value != "" else None for value in values], dtype=object)


def _decimal_comma_float(text: str) -> float:
    """Parse a number written with a decimal comma, such as "1,5".

    A point is rejected, because with a decimal comma it separates thousands ("1.500" is 1500)
    and a column holding it is read as text rather than as a wrong number."""
    if "." in text:
        raise ValueError(f"{text!r} has a point in a file read with a decimal comma")
    return float(text.replace(",", ".", 1))


@command
def _report(args: argparse.Namespace) -> None:
    name = version_name(args.model, args.version)
    with governance_client(args) as governance:
        report = governance.get_drift_report(name, page_size=args.windows)
    if args.output == "json":
        print_json(report)
        return
    print(f"{report.name}: {report.reference_rows} reference rows, {len(report.windows)} windows shown")
    rows = []
    for window in report.windows:
        for feature in [*window.features, *([window.prediction] if window.HasField("prediction") else [])]:
            for statistic in feature.statistics:
                rows.append([window.window_index, window.row_count, feature.feature,
                             enum_label(mon.DriftMethod, statistic.method), f"{statistic.value:.4g}",
                             enum_label(gres.Severity, statistic.severity) if statistic.severity else "-"])
        if window.HasField("concept_drift"):
            concept = window.concept_drift
            rows.append([window.window_index, window.row_count, f"concept:{concept.metric}",
                         f"{concept.reference_value:.4g} -> {concept.window_value:.4g}", f"{concept.degradation:.4g}",
                         enum_label(gres.Severity, concept.severity) if concept.severity else "-"])
        for shift in window.driver_shifts:
            rows.append([window.window_index, window.row_count, f"driver:{shift.feature}", shift.method,
                         f"{shift.change:.4g}", enum_label(gres.Severity, shift.severity) if shift.severity else "-"])
    print_table(["WINDOW", "ROWS", "FEATURE", "METHOD", "VALUE", "SEVERITY"], rows)


@command
def _alerts(args: argparse.Namespace) -> None:
    with governance_client(args) as governance:
        found = list(governance.list_alerts(
            model=args.model, model_version=args.model_version, kind=args.kind or 0, state=args.state,
            min_severity=args.min_severity or 0,
        ))
    if args.output == "json":
        print_json(found)
        return
    print_table(
        ["ALERT", "KIND", "SEVERITY", "VERSION", "FEATURE", "VALUE", "THRESHOLD", "WINDOW", "OPENED"],
        [[alert.name, enum_label(mon.AlertKind, alert.kind), enum_label(gres.Severity, alert.severity),
          alert.model_version, alert.feature, f"{alert.value:.4g}", f"{alert.threshold:.4g}", alert.window_index,
          timestamp_text(alert.open_time)] for alert in found],
    )


@command
def _upload_reference(args: argparse.Namespace) -> None:
    columns = read_csv_columns(args.file, args.delimiter, args.decimal)
    name = version_name(args.model, args.version)
    with governance_client(args) as governance:
        check_feature_columns(governance, name, args.file, columns,
                              not_features=(args.prediction_column, args.label_column))
        response = governance.upload_reference_data(
            name, columns, prediction_column=args.prediction_column, label_column=args.label_column,
            chunk_rows=args.chunk_rows, progress=ProgressBar("uploading reference data"), timeout=args.upload_timeout,
        )
    if args.output == "json":
        print_json(response)
    else:
        print(f"stored {response.row_count} reference rows of {len(response.column_names)} columns for "
              f"{response.model_version}, sha256 {response.sha256}")


@command
def _report_production(args: argparse.Namespace) -> None:
    columns = read_csv_columns(args.file, args.delimiter, args.decimal)
    request_ids = None
    if args.request_id_column:
        if args.request_id_column not in columns:
            raise ValueError(f"--request-id-column {args.request_id_column!r} is not a column of {args.file}")
        request_ids = [str(value) for value in np.asarray(columns.pop(args.request_id_column))]
    name = version_name(args.model, args.version)
    with governance_client(args) as governance:
        check_feature_columns(governance, name, args.file, columns)
        response = governance.report_production_data(
            name, columns, request_ids=request_ids, chunk_rows=args.chunk_rows,
            progress=ProgressBar("sending production data"), timeout=args.upload_timeout,
        )
    if args.output == "json":
        print_json(response)
    else:
        print(f"sent {response.row_count} production rows in {response.batch_count} messages for {response.model_version}")
