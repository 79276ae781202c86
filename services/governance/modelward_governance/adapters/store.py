"""Reading and writing governance state inside a caller's transaction."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.db import is_among
from modelward_common.eventstore import events_table
from modelward_common.principals import canonical_principal
from modelward_common.timeutil import utc_now
from modelward_governance.adapters import codec
from modelward_governance.adapters.schema import (
    findings_table,
    policies_table,
    portfolio_table,
    principals_table,
    promotions_table,
    redundancy_table,
)
from modelward_governance.domain.findings import Finding, FindingKind, OpenFindingSummary
from modelward_governance.domain.portfolio import PortfolioModel
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.promotion import Promotion
from modelward_governance.domain.redundancy import RedundancyMatch, RedundancyPair
from modelward_governance.domain.severity import Severity

# --- portfolio ------------------------------------------------------------------------------


async def _upsert(connection: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, object]]) -> None:
    """Insert the rows, or update every column of those whose primary key exists, in one statement.

    Every row must set every column of the table.
    """
    if rows:
        await connection.execute(_upsert_statement(table, connection.dialect.name), list(rows))


@functools.cache
def _upsert_statement(table: sa.Table, dialect: str) -> sa.Insert:
    # Built once per table: building the ON CONFLICT clause costs more than running it.
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    key = [column.name for column in table.primary_key.columns]
    return insert.on_conflict_do_update(
        index_elements=key,
        set_={column.name: insert.excluded[column.name] for column in table.columns if column.name not in key},
    )


async def load_model(connection: AsyncConnection, uid: str, *, for_update: bool = False) -> PortfolioModel | None:
    query = sa.select(portfolio_table.c.data).where(portfolio_table.c.uid == uid)
    if for_update:
        query = query.with_for_update()
    data = await connection.scalar(query)
    return None if data is None else codec.load(PortfolioModel, data)


@functools.cache
def _models(dialect: str) -> sa.Select[Any]:
    return sa.select(portfolio_table.c.uid, portfolio_table.c.data).where(is_among(dialect, portfolio_table.c.uid, "uids"))


async def load_models(connection: AsyncConnection, uids: Iterable[str]) -> dict[str, PortfolioModel]:
    """Return the models that exist among `uids`, without locking their rows."""
    return {uid: codec.load(PortfolioModel, data) for uid, data in await _rows_for(connection, _models, uids)}


async def lock_models(connection: AsyncConnection, uids: Iterable[str]) -> dict[str, PortfolioModel]:
    """Lock the portfolio rows of the models in uid order and return the models that exist."""
    result = await connection.execute(_models_for_update(connection.dialect.name), {"uids": sorted(set(uids))})
    return {uid: codec.load(PortfolioModel, data) for uid, data in result}


@functools.cache
def _models_for_update(dialect: str) -> sa.Select[Any]:
    return _models(dialect).order_by(portfolio_table.c.uid).with_for_update()


async def load_model_by_name(connection: AsyncConnection, model_id: str) -> PortfolioModel | None:
    data = await connection.scalar(sa.select(portfolio_table.c.data).where(portfolio_table.c.model_id == model_id))
    return None if data is None else codec.load(PortfolioModel, data)


async def save_model(
    connection: AsyncConnection, model: PortfolioModel, *, orphaned: bool, compliant: bool, open_findings: int
) -> None:
    await save_model_rows(connection, [portfolio_row(model, orphaned=orphaned, compliant=compliant, open_findings=open_findings)])


async def save_model_rows(connection: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    """Write rows made by `portfolio_row` in one statement."""
    await _upsert(connection, portfolio_table, rows)


def portfolio_row(model: PortfolioModel, *, orphaned: bool, compliant: bool, open_findings: int) -> dict[str, object]:
    production = model.production_versions()
    return {
        "uid": model.uid,
        "model_id": model.model_id,
        "owner": model.owner,
        "team": model.team,
        "risk_tier": model.risk_tier.value,
        "state": model.state.value,
        "task_type": model.task_type,
        "orphaned": orphaned,
        "compliant": compliant,
        "open_findings": open_findings,
        "production_version": production[-1].version if production else 0,
        "last_activity_time": model.last_activity_time or model.create_time,
        "update_time": utc_now(),
        "data": codec.encode(model),
    }


# Most values one statement passes in a list. SQLite expands a list into one parameter per
# value, and allows 32,766 parameters in a statement by default since its version 3.32.
_LIST_CHUNK = 10_000


def in_chunks(values: Iterable[str]) -> list[list[str]]:
    """Split the sorted distinct values into lists short enough for one statement each."""
    ordered = sorted(set(values))
    return [ordered[start:start + _LIST_CHUNK] for start in range(0, len(ordered), _LIST_CHUNK)]


async def _rows_for(
    connection: AsyncConnection, statement: Callable[[str], sa.Select[Any]], uids: Iterable[str]
) -> list[sa.Row[Any]]:
    """Run `statement(dialect)`, which takes the list parameter `uids`, over the uids in chunks."""
    rows: list[sa.Row[Any]] = []
    for chunk in in_chunks(uids):
        rows.extend(await connection.execute(statement(connection.dialect.name), {"uids": chunk}))
    return rows


@functools.cache
def _model_names(dialect: str) -> sa.Select[Any]:
    return sa.select(portfolio_table.c.uid, portfolio_table.c.model_id).where(is_among(dialect, portfolio_table.c.uid, "uids"))


async def model_names(connection: AsyncConnection, uids: Iterable[str]) -> dict[str, str]:
    """Return `models/{model}` for each uid the portfolio has."""
    return {uid: f"models/{model_id}" for uid, model_id in await _rows_for(connection, _model_names, uids)}


async def all_models(connection: AsyncConnection) -> list[PortfolioModel]:
    result = await connection.execute(sa.select(portfolio_table.c.data).order_by(portfolio_table.c.uid))
    return [codec.load(PortfolioModel, data) for (data,) in result]


# --- findings -------------------------------------------------------------------------------


async def open_findings(connection: AsyncConnection, model_uid: str) -> list[Finding]:
    result = await connection.execute(
        sa.select(findings_table.c.data).where(findings_table.c.model_uid == model_uid, findings_table.c.is_open.is_(True))
    )
    return [codec.load(Finding, data) for (data,) in result]


async def open_findings_with_checks(
    connection: AsyncConnection, model_uids: Iterable[str], kind: FindingKind, check_ids: Sequence[str]
) -> dict[str, list[Finding]]:
    """Return the open findings of this kind and these check ids of each model, empty lists included."""
    found: dict[str, list[Finding]] = {uid: [] for uid in sorted(set(model_uids))}
    result = await connection.execute(
        sa.select(findings_table.c.model_uid, findings_table.c.data).where(
            findings_table.c.model_uid.in_(list(found)), findings_table.c.is_open.is_(True),
            findings_table.c.kind == kind.value, findings_table.c.check_id.in_(check_ids),
        )
    )
    for uid, data in result:
        found[uid].append(codec.load(Finding, data))
    return found


@functools.cache
def _open_findings(dialect: str) -> sa.Select[Any]:
    return sa.select(findings_table.c.model_uid, findings_table.c.data).where(
        is_among(dialect, findings_table.c.model_uid, "uids"), findings_table.c.is_open.is_(True)
    )


async def open_findings_of(connection: AsyncConnection, model_uids: Iterable[str]) -> dict[str, list[Finding]]:
    """Return the open findings of each model, with an empty list for models that have none."""
    uids = sorted(set(model_uids))
    found: dict[str, list[Finding]] = {uid: [] for uid in uids}
    result = await connection.execute(_open_findings(connection.dialect.name), {"uids": uids})
    for uid, data in result:
        found[uid].append(codec.load(Finding, data))
    return found


@functools.cache
def _open_finding_counts(dialect: str) -> sa.Select[Any]:
    findings = findings_table.c
    return (
        sa.select(findings.model_uid, findings.version, sa.func.count(), sa.func.max(findings.severity))
        .where(is_among(dialect, findings.model_uid, "uids"), findings.is_open.is_(True))
        .group_by(findings.model_uid, findings.version)
    )


async def open_finding_summaries(connection: AsyncConnection, model_uids: Iterable[str]) -> dict[str, OpenFindingSummary]:
    """Return the summary of each model's open findings, counted in the database, none decoded."""
    counts: dict[str, dict[int, int]] = {uid: {} for uid in model_uids}
    highest: dict[str, int] = {}
    for uid, version, count, severity in await _rows_for(connection, _open_finding_counts, counts):
        counts[uid][int(version)] = int(count)
        highest[uid] = max(highest.get(uid, severity), severity)
    return {
        uid: OpenFindingSummary(by_version, Severity(highest[uid]) if uid in highest else None)
        for uid, by_version in counts.items()
    }


async def save_findings(connection: AsyncConnection, findings: Iterable[Finding]) -> None:
    rows = []
    for finding in findings:
        rows.append({
            "finding_id": finding.finding_id,
            "model_uid": finding.key.model_uid,
            "version": finding.key.version,
            "kind": finding.key.kind.value,
            "check_id": finding.key.check_id,
            "severity": int(finding.severity),
            "blocks_promotion": finding.blocks_promotion,
            "is_open": finding.is_open,
            "opened_at": finding.opened_at,
            "resolved_at": finding.resolved_at,
            "data": codec.encode(finding),
        })
    await _upsert(connection, findings_table, rows)


async def refresh_open_findings(connection: AsyncConnection, model_uids: Iterable[str]) -> None:
    """Recount the models' open findings after findings changed without a full re-evaluation."""
    count = sa.select(sa.func.count()).select_from(findings_table).where(
        findings_table.c.model_uid == portfolio_table.c.uid, findings_table.c.is_open.is_(True)
    ).scalar_subquery()
    await connection.execute(
        portfolio_table.update().where(portfolio_table.c.uid.in_(sorted(set(model_uids)))).values(open_findings=count)
    )


async def get_finding(connection: AsyncConnection, finding_id: str) -> Finding | None:
    data = await connection.scalar(sa.select(findings_table.c.data).where(findings_table.c.finding_id == finding_id))
    return None if data is None else codec.load(Finding, data)


# --- promotions -----------------------------------------------------------------------------


async def save_promotion(connection: AsyncConnection, promotion: Promotion) -> None:
    row = {
        "promotion_id": promotion.promotion_id,
        "model_uid": promotion.model_uid,
        "version": promotion.version,
        "state": promotion.state.value,
        "requested_at": promotion.requested_at,
        "data": codec.encode(promotion),
    }
    updated = await connection.execute(
        promotions_table.update().where(promotions_table.c.promotion_id == promotion.promotion_id).values(row)
    )
    if updated.rowcount == 0:
        await connection.execute(promotions_table.insert().values(row))


async def load_promotion(connection: AsyncConnection, promotion_id: str) -> Promotion | None:
    data = await connection.scalar(
        sa.select(promotions_table.c.data).where(promotions_table.c.promotion_id == promotion_id)
    )
    return None if data is None else codec.load(Promotion, data)


async def open_promotion_for(connection: AsyncConnection, model_uid: str, version: int) -> Promotion | None:
    result = await connection.execute(
        sa.select(promotions_table.c.data)
        .where(
            promotions_table.c.model_uid == model_uid,
            promotions_table.c.version == version,
            promotions_table.c.state.in_(("requested", "awaiting_decisions")),
        )
        .order_by(promotions_table.c.requested_at.desc())
        .limit(1)
    )
    data = result.scalar()
    return None if data is None else codec.load(Promotion, data)


# --- policies -------------------------------------------------------------------------------


async def current_policy_revision(connection: AsyncConnection) -> int | None:
    return await connection.scalar(sa.select(sa.func.max(policies_table.c.revision)))


async def current_policy_row(connection: AsyncConnection) -> sa.RowMapping | None:
    result = await connection.execute(sa.select(policies_table).order_by(policies_table.c.revision.desc()).limit(1))
    return result.mappings().first()


async def policy_row(connection: AsyncConnection, revision: int) -> sa.RowMapping | None:
    result = await connection.execute(sa.select(policies_table).where(policies_table.c.revision == revision))
    return result.mappings().first()


async def insert_policy(
    connection: AsyncConnection, *, revision: int, text: str, sha256: str, author: str, reason: str, at: dt.datetime
) -> None:
    await connection.execute(
        policies_table.insert().values(
            revision=revision, text=text, sha256=sha256, author=author, reason=reason, create_time=at
        )
    )


# --- principals -----------------------------------------------------------------------------


# The principals governance's CallGuard rejects, and the ones orphan checks treat as gone.
INACTIVE_PRINCIPALS = sa.select(principals_table.c.principal).where(principals_table.c.active.is_(False))

# PostgreSQL advisory lock key that serialises deactivations, so two admins deactivating each
# other at once cannot both pass the check that an active admin remains.
async def principal_directory(connection: AsyncConnection) -> PrincipalDirectory:
    inactive = (await connection.scalars(INACTIVE_PRINCIPALS)).all()
    return PrincipalDirectory(inactive=frozenset(canonical_principal(principal) for principal in inactive))


async def set_principal(connection: AsyncConnection, principal: str, active: bool, reason: str, changed_by: str) -> None:
    row = {"principal": principal, "active": active, "reason": reason, "changed_by": changed_by, "update_time": utc_now()}
    updated = await connection.execute(
        principals_table.update().where(principals_table.c.principal == principal).values(row)
    )
    if updated.rowcount == 0:
        await connection.execute(principals_table.insert().values(row))


async def principal_row(connection: AsyncConnection, principal: str) -> sa.RowMapping | None:
    result = await connection.execute(sa.select(principals_table).where(principals_table.c.principal == principal))
    return result.mappings().first()


async def models_owned_by(connection: AsyncConnection, principal: str) -> list[str]:
    result = await connection.execute(sa.select(portfolio_table.c.uid).where(portfolio_table.c.owner == principal))
    return [row[0] for row in result]


# --- redundancy -----------------------------------------------------------------------------


def _pair_key(pair: RedundancyPair) -> tuple[str, str, str]:
    first, second = sorted(pair.model_uids)
    return first, second, pair.kind.value


async def flagged_pairs(connection: AsyncConnection, model_uid: str) -> list[RedundancyPair]:
    return (await flagged_pairs_of(connection, [model_uid]))[model_uid]


@functools.cache
def _flagged_pairs_of(dialect: str) -> sa.Select[Any]:
    flags = redundancy_table.c
    return sa.select(flags.first_uid, flags.second_uid, flags.kind, flags.data).where(
        sa.or_(is_among(dialect, flags.first_uid, "uids"), is_among(dialect, flags.second_uid, "uids"))
    )


async def flagged_pairs_of(connection: AsyncConnection, model_uids: Iterable[str]) -> dict[str, list[RedundancyPair]]:
    """Return the flagged pairs of each model, with an empty list for models that have none."""
    flagged: dict[str, list[RedundancyPair]] = {uid: [] for uid in model_uids}
    # A pair whose two models fall in different chunks comes back once per chunk.
    rows = {(first, second, kind): data for first, second, kind, data in await _rows_for(connection, _flagged_pairs_of, flagged)}
    for (first, second, _), data in rows.items():
        pair = codec.load(RedundancyPair, data)
        for uid in {first, second} & flagged.keys():
            flagged[uid].append(pair)
    return flagged


_DELETE_PAIR = redundancy_table.delete().where(
    redundancy_table.c.first_uid == sa.bindparam("first"),
    redundancy_table.c.second_uid == sa.bindparam("second"),
    redundancy_table.c.kind == sa.bindparam("pair_kind"),
)


async def flag_pairs(connection: AsyncConnection, matches: Sequence[RedundancyMatch]) -> None:
    """Flag the matches' pairs, replacing any row of the same pair, with one statement per step."""
    if not matches:
        return
    keys = [_pair_key(match.pair) for match in matches]
    await _clear_keys(connection, keys)
    await connection.execute(redundancy_table.insert(), [
        {"first_uid": first, "second_uid": second, "kind": kind, "data": codec.encode(match.pair)}
        for (first, second, kind), match in zip(keys, matches, strict=True)
    ])


async def clear_pairs(connection: AsyncConnection, pairs: Sequence[RedundancyPair]) -> None:
    await _clear_keys(connection, [_pair_key(pair) for pair in pairs])


async def _clear_keys(connection: AsyncConnection, keys: Sequence[tuple[str, str, str]]) -> None:
    """Delete the flags of these (first uid, second uid, kind) keys in one statement."""
    if keys:
        await connection.execute(_DELETE_PAIR, [{"first": first, "second": second, "pair_kind": kind} for first, second, kind in keys])


@dataclass(frozen=True)
class BatchReads:
    """The state a consumer batch reads before its events apply, in one statement."""

    policy_revision: int | None
    principals: PrincipalDirectory
    # Open findings and flagged pairs of each of the batch's models, empty lists included.
    findings: dict[str, list[Finding]]
    flagged: dict[str, list[RedundancyPair]]
    # Version of each of the models' governance event streams, 0 for streams without events.
    stream_versions: dict[str, int]


@functools.cache
def _batch_reads(dialect: str) -> sa.CompoundSelect:
    """Build the statement of batch_reads, once per dialect. Its rows are (kind, key, other key, value)."""

    def row(kind: str, key: sa.ColumnElement[str], other: sa.ColumnElement[str], value: sa.ColumnElement[str]) -> list[sa.ColumnElement[str]]:
        return [sa.literal(kind, sa.Text).label("kind"), key.label("key"), other.label("other"), value.label("value")]

    text, empty = sa.Text(), sa.literal("", sa.Text)
    return sa.union_all(
        sa.select(*row("revision", empty, empty, sa.cast(sa.func.max(policies_table.c.revision), text))),
        sa.select(*row("inactive", sa.cast(principals_table.c.principal, text), empty, empty)).where(
            principals_table.c.active.is_(False)
        ),
        sa.select(*row("finding", sa.cast(findings_table.c.model_uid, text), empty, sa.cast(findings_table.c.data, text))).where(
            is_among(dialect, findings_table.c.model_uid, "uids"), findings_table.c.is_open.is_(True)
        ),
        sa.select(*row(
            "pair", sa.cast(redundancy_table.c.first_uid, text), sa.cast(redundancy_table.c.second_uid, text),
            sa.cast(redundancy_table.c.data, text),
        )).where(sa.or_(
            is_among(dialect, redundancy_table.c.first_uid, "uids"), is_among(dialect, redundancy_table.c.second_uid, "uids")
        )),
        sa.select(*row(
            "version", sa.cast(events_table.c.stream_id, text), empty, sa.cast(sa.func.max(events_table.c.stream_version), text),
        )).where(is_among(dialect, events_table.c.stream_id, "uids")).group_by(events_table.c.stream_id),
    )


async def batch_reads(connection: AsyncConnection, model_uids: Iterable[str]) -> BatchReads:
    """Read the policy revision, the inactive principals and the models' open findings, flagged
    pairs and stream versions in one round trip: the parts are joined with UNION ALL as rows of
    (kind, key, other key, value), JSON as text."""
    uids = sorted(set(model_uids))
    revision: int | None = None
    inactive: set[str] = set()
    findings: dict[str, list[Finding]] = {uid: [] for uid in uids}
    flagged: dict[str, list[RedundancyPair]] = {uid: [] for uid in uids}
    versions = dict.fromkeys(uids, 0)
    for kind, key, other, value in await connection.execute(_batch_reads(connection.dialect.name), {"uids": uids}):
        if kind == "revision":
            revision = None if value is None else int(value)
        elif kind == "inactive":
            inactive.add(canonical_principal(key))
        elif kind == "finding":
            findings[key].append(codec.load(Finding, json.loads(value)))
        elif kind == "pair":
            pair = codec.load(RedundancyPair, json.loads(value))
            for uid in {key, other} & flagged.keys():
                flagged[uid].append(pair)
        else:
            versions[key] = int(value)
    return BatchReads(revision, PrincipalDirectory(inactive=frozenset(inactive)), findings, flagged, versions)
