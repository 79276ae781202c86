"""Redundant models: one artifact under two models, or near-duplicate models on the same data.

Two models are redundant when their indexed versions have the same artifact SHA-256, or the
same training dataset SHA-256 and task type with feature sets whose Jaccard similarity reaches
`RedundancyConfig.jaccard_threshold`. The index contains one version per model, the one that
`subject_for_model` picks, and answers a check without comparing against every model:

- artifact digest -> model uids, an exact dictionary;
- (training dataset digest, task type) -> indexed models, an exact dictionary. A group of at
  most `exact_group_limit` models is compared exactly, member by member;
- a larger group is searched with MinHash LSH (see `minhash`): candidates share a band key, and
  every candidate is verified by exact Jaccard before it is reported, so LSH can miss a pair but
  never reports a false one.

A check flags a bounded number of pairs (`RedundancyIndex.check`): the model keeps its flagged
pairs that still match, and its best new matches top each kind up to
`RedundancyConfig.max_partners`, equally similar ones in `pair_rank` order. Models that share one
dataset and one feature set are all redundant with each other. Flagging every pair made their
findings grow with the square of their number, and 200 of them took governance almost three
minutes (docs/benchmarks.md).

The index is mutable: it is a cache the service rebuilds from the portfolio at start and
updates as versions arrive, supersede each other or models are deleted.
"""

from __future__ import annotations

import enum
import heapq
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from modelward_common.errors import InvalidArgument
from modelward_governance.domain.findings import FindingDraft, FindingKey, FindingKind
from modelward_governance.domain.minhash import MinHasher, candidate_probability, choose_banding
from modelward_governance.domain.portfolio import ModelState, PortfolioModel
from modelward_governance.domain.severity import Severity

_Ids = npt.NDArray[np.int32]
_K = TypeVar("_K")
_V = TypeVar("_V")


# Upper bound of RedundancyConfig.max_partners.
MAX_PARTNERS = 1000
# A limited search verifies at most this many LSH candidates, those first in `pair_rank` order.
_MAX_VERIFIED = 1024


def pair_rank(model_uid: str, other_uid: str) -> int:
    """Return the rank that orders equally similar partners of a model: a CRC-32 of the two uids.

    Equal on every replica and in a replay, whatever order the models were indexed in, and
    spread over the group, so no model becomes every newcomer's partner.
    """
    first, second = sorted((model_uid, other_uid))
    return zlib.crc32(f"{first}\x00{second}".encode())


@dataclass(frozen=True)
class RedundancyConfig:
    jaccard_threshold: float = 0.8
    num_permutations: int = 128
    # Largest false-negative probability of the LSH search for a pair exactly at the threshold;
    # it picks the banding when `bands` and `rows_per_band` are 0. With the defaults the banding
    # is 18 bands of 7 rows: a pair at 0.8 is missed with probability 1.45%, at 0.9 with 2e-6.
    max_false_negative: float = 0.02
    bands: int = 0
    rows_per_band: int = 0
    seed: int = 1
    # Groups of the same dataset and task type up to this size are compared exactly, without LSH.
    exact_group_limit: int = 64
    # Most pairs of each kind that a check tops a model up to (see RedundancyIndex.check).
    max_partners: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.jaccard_threshold <= 1.0:
            raise InvalidArgument(
                "jaccard_threshold", self.jaccard_threshold, "use a value in (0, 1]"
            )
        if self.exact_group_limit < 0:
            raise InvalidArgument("exact_group_limit", self.exact_group_limit, "use 0 or more")
        if not 1 <= self.max_partners <= MAX_PARTNERS:
            raise InvalidArgument("max_partners", self.max_partners, f"use a value from 1 to {MAX_PARTNERS}")
        if (self.bands == 0) != (self.rows_per_band == 0):
            raise InvalidArgument(
                "bands", self.bands, "set both bands and rows_per_band, or neither to choose them"
            )
        if self.bands * self.rows_per_band > self.num_permutations:
            raise InvalidArgument(
                "bands",
                self.bands,
                f"bands * rows_per_band must be at most num_permutations ({self.num_permutations})",
            )

    def banding(self) -> tuple[int, int]:
        """Return (bands, rows per band), chosen from `max_false_negative` unless set."""
        if self.bands:
            return self.bands, self.rows_per_band
        return choose_banding(
            self.num_permutations, self.jaccard_threshold, self.max_false_negative
        )

    def false_negative_probability(self, similarity: float | None = None) -> float:
        """Probability that LSH misses a pair of this similarity (the threshold by default)."""
        bands, rows = self.banding()
        similarity = self.jaccard_threshold if similarity is None else similarity
        return 1.0 - candidate_probability(similarity, bands, rows)


@dataclass(frozen=True)
class RedundancySubject:
    """The version that stands for a model in the redundancy index."""

    model_uid: str
    version: int
    artifact_sha256: str = ""
    training_dataset_sha256: str = ""
    task_type: str = ""
    feature_names: frozenset[str] = frozenset()


def subject_for_model(model: PortfolioModel) -> RedundancySubject | None:
    """Pick the version that stands for the model: its highest production version, else its
    latest version that is not archived. None for an archived or deleted model or one without
    versions, which the service should remove from the index."""
    if model.state is not ModelState.ACTIVE:
        return None
    production = model.production_versions()
    version = production[-1] if production else model.latest_version()
    if version is None:
        return None
    return RedundancySubject(
        model_uid=model.uid,
        version=version.version,
        artifact_sha256=version.artifact_sha256,
        training_dataset_sha256=version.training_dataset_sha256,
        task_type=model.task_type,
        feature_names=frozenset(version.feature_names),
    )


class MatchKind(enum.Enum):
    ARTIFACT_DIGEST = "artifact_digest"
    FEATURE_SIMILARITY = "feature_similarity"


@dataclass(frozen=True)
class RedundancyPair:
    """An unordered pair of models flagged redundant in one way."""

    kind: MatchKind
    model_uids: frozenset[str]


@dataclass(frozen=True)
class RedundancyMatch:
    kind: MatchKind
    model_uid: str
    version: int
    other_model_uid: str
    other_version: int
    # Jaccard similarity of the feature sets; 1.0 for an artifact match.
    similarity: float
    threshold: float
    # Shared digests and feature counts, JSON-compatible.
    evidence: Mapping[str, object] = field(default_factory=dict)

    @property
    def pair(self) -> RedundancyPair:
        return RedundancyPair(self.kind, frozenset({self.model_uid, self.other_model_uid}))


@dataclass(frozen=True)
class RedundancyChanges:
    detected: tuple[RedundancyMatch, ...] = ()
    cleared: tuple[RedundancyPair, ...] = ()


def reconcile_redundancy(
    model_uid: str, flagged: Iterable[RedundancyPair], matches: Sequence[RedundancyMatch]
) -> RedundancyChanges:
    """Compare the pairs flagged for a model with the matches of its latest check.

    `flagged` contains the pairs currently flagged that include `model_uid`. Pass no matches after
    the model was deleted or removed from the index to clear all of them.
    """
    current = {match.pair: match for match in matches}
    previous = {pair for pair in flagged if model_uid in pair.model_uids}
    detected = tuple(match for pair, match in current.items() if pair not in previous)
    cleared = tuple(
        sorted(
            (pair for pair in previous if pair not in current),
            key=lambda pair: (pair.kind.value, sorted(pair.model_uids)),
        )
    )
    return RedundancyChanges(detected, cleared)


def redundancy_finding_drafts(
    matches: Sequence[RedundancyMatch], severity: Severity = Severity.WARNING
) -> tuple[FindingDraft, ...]:
    """Turn matches into drafts of kind REDUNDANT_MODEL on the checked model, one per pair."""
    drafts = []
    for match in matches:
        relation = (
            "the same artifact as"
            if match.kind is MatchKind.ARTIFACT_DIGEST
            else "near-duplicate features of"
        )
        drafts.append(
            FindingDraft(
                key=FindingKey(
                    match.model_uid,
                    0,
                    FindingKind.REDUNDANT_MODEL,
                    f"redundant.{match.kind.value}.{match.other_model_uid}",
                ),
                severity=severity,
                blocks_promotion=False,
                message=(
                    f"version {match.version} has {relation} version {match.other_version} of model "
                    f"{match.other_model_uid} "
                    f"(similarity {match.similarity:.3f}, threshold {match.threshold:g})"
                ),
                # The message's values too, so clients can word it in other languages.
                evidence={
                    **match.evidence,
                    "version": match.version,
                    "other_model_uid": match.other_model_uid,
                    "other_version": match.other_version,
                    "similarity": match.similarity,
                    "threshold": match.threshold,
                },
            )
        )
    return tuple(drafts)


@dataclass(frozen=True, slots=True)
class _Entry:
    entry_id: int
    model_uid: str
    version: int
    artifact_sha256: str
    # (training dataset digest, task type), or None when either is missing.
    group: tuple[str, str] | None
    # Sorted token ids of the feature names.
    features: _Ids


# Features of the entry an artifact search builds, which needs none: looking up the names costs
# more than that search (0.044 against 0.007 ms at p50 in benchmarks/redundancy_benchmark.py).
_NO_IDS: _Ids = np.zeros(0, dtype=np.int32)

# The recent LSH keys merge into the sorted arrays once this many entries were indexed since the
# last merge. A merge sorts only the recent keys and copies the arrays once. A recent key costs
# about 180 bytes in its dictionary (an estimate) against 16 in the arrays, so frequent merges
# keep the memory peak low.
_MERGE_ENTRIES = 4096
# Keys of removed entries are dropped once removed entries reach a quarter of the indexed ones,
# and at least this many.
_MIN_COMPACTION_ENTRIES = 1024


class RedundancyIndex:
    """In-memory redundancy index over one version per model. Not thread-safe."""

    def __init__(self, config: RedundancyConfig | None = None) -> None:
        self.config = config or RedundancyConfig()
        self._bands, self._rows = self.config.banding()
        self._hasher = MinHasher(self.config.num_permutations, self.config.seed)

        # Token ids of feature names and their name hashes. Names are never forgotten, which
        # bounds memory by the vocabulary, not by the number of models.
        self._token_ids: dict[str, int] = {}
        self._token_hashes = np.zeros(1024, dtype=np.uint64)

        self._entries: dict[int, _Entry] = {}
        self._entry_of_model: dict[str, int] = {}
        self._next_entry_id = 1
        self._models_by_artifact: dict[str, set[str]] = {}
        self._entries_by_group: dict[tuple[str, str], set[int]] = {}

        # LSH table: band keys in a sorted array with the entry id of each, plus the keys added
        # since the last merge in a dictionary. Keys of removed entries stay until the next
        # compaction and are skipped on lookup.
        self._base_keys = np.zeros(0, dtype=np.uint64)
        self._base_ids = np.zeros(0, dtype=np.int64)
        self._recent: dict[int, list[int]] = {}
        self._recent_entries = 0
        self._dead_ids: set[int] = set()

    @property
    def banding(self) -> tuple[int, int]:
        return self._bands, self._rows

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, model_uid: object) -> bool:
        return model_uid in self._entry_of_model

    def upsert(self, subject: RedundancySubject) -> None:
        """Index `subject` as the version standing for its model, replacing any earlier one."""
        self._upsert(subject)

    def check(self, subject: RedundancySubject, flagged: Iterable[RedundancyPair]) -> tuple[RedundancyMatch, ...]:
        """Index `subject` and return the pairs its model should be flagged in.

        `flagged` contains the pairs flagged now. Those that still match stay, whichever model's
        check flagged them. Then, per kind of match, the best new matches are added until the
        model is in `max_partners` pairs of that kind: the most similar first and, among equally
        similar ones, the lowest `pair_rank`. Pairs a model already has are never dropped for
        closer ones, so repeated checks of unchanged models change nothing, and the number of
        flagged pairs grows with the number of models, not with its square.
        """
        limit = self.config.max_partners
        # The subject's band keys serve both its indexing and its search.
        best = self._matches(subject, self._upsert(subject), limit)
        still_matching = [
            match for pair in flagged if (match := self.match_pair(subject.model_uid, pair)) is not None
        ]
        already_flagged = {match.pair for match in still_matching}
        counts = Counter(match.kind for match in still_matching)
        added = []
        for match in best:
            if match.pair not in already_flagged and counts[match.kind] < limit:
                counts[match.kind] += 1
                added.append(match)
        return _in_report_order([*still_matching, *added])

    def match_pair(self, model_uid: str, pair: RedundancyPair) -> RedundancyMatch | None:
        """Return the match of `pair` seen from `model_uid`, or None when its two models are no
        longer both indexed or no longer match in the pair's way."""
        others = pair.model_uids - {model_uid}
        if model_uid not in pair.model_uids or len(others) != 1:
            return None
        entry_id, other_id = self._entry_of_model.get(model_uid), self._entry_of_model.get(next(iter(others)))
        if entry_id is None or other_id is None:
            return None
        entry, other = self._entries[entry_id], self._entries[other_id]
        if pair.kind is MatchKind.ARTIFACT_DIGEST:
            if entry.artifact_sha256 and entry.artifact_sha256 == other.artifact_sha256:
                return self._artifact_match(entry, other)
            return None
        if entry.group is None or entry.group != other.group or not entry.features.size:
            return None
        shared = int(np.intersect1d(entry.features, other.features, assume_unique=True).size)
        union = int(entry.features.size) + int(other.features.size) - shared
        if shared / union < self.config.jaccard_threshold:
            return None
        return self._feature_match(entry, other, shared, union, int(entry.features.size))

    def is_indexed(self, subject: RedundancySubject) -> bool:
        """Return whether the index contains exactly `subject` for its model."""
        entry_id = self._entry_of_model.get(subject.model_uid)
        if entry_id is None:
            return False
        entry = self._entries[entry_id]
        if (entry.version, entry.artifact_sha256, entry.group) != (subject.version, subject.artifact_sha256, _group_of(subject)):
            return False
        known_ids, _ = self._lookup_tokens(subject.feature_names)
        return known_ids.size == len(subject.feature_names) and bool(np.array_equal(known_ids, entry.features))

    def _upsert(self, subject: RedundancySubject) -> npt.NDArray[np.uint64] | None:
        """Index `subject`; return its band keys, or None when it has no feature group or was
        indexed already (most events change nothing the index keeps)."""
        if self.is_indexed(subject):
            return None
        self.remove(subject.model_uid)
        entry_id = self._next_entry_id
        self._next_entry_id += 1
        group = _group_of(subject)
        features = np.array(
            sorted(self._token_id(name) for name in subject.feature_names), dtype=np.int32
        )
        entry = _Entry(
            entry_id, subject.model_uid, subject.version, subject.artifact_sha256, group, features
        )
        self._entries[entry_id] = entry
        self._entry_of_model[subject.model_uid] = entry_id

        if subject.artifact_sha256:
            self._models_by_artifact.setdefault(subject.artifact_sha256, set()).add(
                subject.model_uid
            )
        if group is None or not features.size:
            return None
        self._entries_by_group.setdefault(group, set()).add(entry_id)
        band_keys = self._band_keys(self._hasher.signature_of_hashes(self._token_hashes[features]), group)
        for key in band_keys.tolist():
            self._recent.setdefault(key, []).append(entry_id)
        self._recent_entries += 1
        if self._recent_entries >= _MERGE_ENTRIES:
            self._merge_recent()
        return band_keys

    def remove(self, model_uid: str) -> bool:
        """Drop the model from the index; return whether it was indexed."""
        entry_id = self._entry_of_model.pop(model_uid, None)
        if entry_id is None:
            return False
        entry = self._entries.pop(entry_id)
        if entry.artifact_sha256:
            _discard(self._models_by_artifact, entry.artifact_sha256, model_uid)
        if entry.group is not None and entry.features.size:
            _discard(self._entries_by_group, entry.group, entry_id)
            self._dead_ids.add(entry_id)
            if len(self._dead_ids) >= max(_MIN_COMPACTION_ENTRIES, len(self._entries) // 4):
                self.compact()
        return True

    def compact(self) -> None:
        """Merge the recent LSH keys into the sorted arrays and drop the keys of removed entries."""
        self._merge_recent()
        if self._dead_ids:
            alive = ~np.isin(self._base_ids, np.fromiter(self._dead_ids, dtype=np.int64))
            self._base_keys, self._base_ids = self._base_keys[alive], self._base_ids[alive]
            self._dead_ids = set()

    def _merge_recent(self) -> None:
        """Move the recent LSH keys into the sorted arrays, after any equal keys already there."""
        if not self._recent:
            return
        recent_keys = np.fromiter(
            (key for key, ids in self._recent.items() for _ in ids), dtype=np.uint64
        )
        recent_ids = np.fromiter(
            (entry_id for ids in self._recent.values() for entry_id in ids), dtype=np.int64
        )
        order = np.argsort(recent_keys, kind="stable")
        recent_keys, recent_ids = recent_keys[order], recent_ids[order]
        at = np.searchsorted(self._base_keys, recent_keys, side="right")
        self._base_keys = np.insert(self._base_keys, at, recent_keys)
        self._base_ids = np.insert(self._base_ids, at, recent_ids)
        self._recent = {}
        self._recent_entries = 0

    def find_matches(self, subject: RedundancySubject) -> tuple[RedundancyMatch, ...]:
        """Return the indexed models that `subject` is redundant with, leaving the index unchanged.

        Artifact matches come first, then feature matches by decreasing similarity. The
        subject's own model is never matched.
        """
        return self._matches(subject, None)

    def _matches(
        self, subject: RedundancySubject, band_keys: npt.NDArray[np.uint64] | None, limit: int | None = None
    ) -> tuple[RedundancyMatch, ...]:
        """`find_matches`, with the subject's band keys when the caller already has them.

        With a `limit`, return at most that many matches of each kind: the most similar and,
        among equals, the lowest `pair_rank`, after verifying at most `_MAX_VERIFIED` LSH
        candidates (those of lowest `pair_rank`).
        """
        group = _group_of(subject)
        matches = self._artifact_matches(
            _Entry(0, subject.model_uid, subject.version, subject.artifact_sha256, group, _NO_IDS), limit
        )
        if group is None or not subject.feature_names:
            return tuple(matches)
        members = self._entries_by_group.get(group)
        if not members:
            return tuple(matches)
        checked, hashes = self._as_entry(subject)

        if len(members) <= self.config.exact_group_limit:
            candidate_ids: Iterable[int] = members
        else:
            if band_keys is None:
                band_keys = self._band_keys(self._hasher.signature_of_hashes(hashes), group)
            candidate_ids = self._lsh_entry_ids(band_keys)
            if limit is not None and len(candidate_ids) > _MAX_VERIFIED:
                candidate_ids = heapq.nsmallest(
                    _MAX_VERIFIED, candidate_ids,
                    key=lambda entry_id: self._rank_of_entry(subject.model_uid, entry_id),
                )

        similar: list[tuple[float, int, RedundancyMatch]] = []
        feature_count = len(subject.feature_names)
        for entry_id in candidate_ids:
            entry = self._entries.get(entry_id)
            if entry is None or entry.model_uid == subject.model_uid or entry.group != group:
                continue
            shared = int(np.intersect1d(checked.features, entry.features, assume_unique=True).size)
            union = feature_count + int(entry.features.size) - shared
            similarity = shared / union
            if similarity >= self.config.jaccard_threshold:
                match = self._feature_match(checked, entry, shared, union, feature_count)
                similar.append((similarity, pair_rank(subject.model_uid, entry.model_uid), match))
        if limit is not None:
            similar = heapq.nsmallest(limit, similar, key=lambda found: (-found[0], found[1]))
        similar.sort(key=lambda found: (-found[0], found[2].other_model_uid))
        return tuple(matches + [match for _, _, match in similar])

    def _rank_of_entry(self, model_uid: str, entry_id: int) -> int:
        entry = self._entries.get(entry_id)
        return pair_rank(model_uid, entry.model_uid) if entry is not None else -1

    def lsh_candidates(self, subject: RedundancySubject) -> frozenset[str]:
        """Model uids sharing a band key with the subject, before exact verification."""
        group = _group_of(subject)
        if group is None or not subject.feature_names:
            return frozenset()
        _, hashes = self._lookup_tokens(subject.feature_names)
        band_keys = self._band_keys(self._hasher.signature_of_hashes(hashes), group)
        uids = set()
        for entry_id in self._lsh_entry_ids(band_keys):
            entry = self._entries.get(entry_id)
            if entry is not None and entry.model_uid != subject.model_uid:
                uids.add(entry.model_uid)
        return frozenset(uids)

    def _artifact_matches(self, checked: _Entry, limit: int | None) -> list[RedundancyMatch]:
        """Matches by artifact digest, by model uid; with a `limit`, those of lowest `pair_rank`."""
        if not checked.artifact_sha256:
            return []
        other_ids = [
            self._entry_of_model[uid]
            for uid in self._models_by_artifact.get(checked.artifact_sha256, ())
            if uid != checked.model_uid
        ]
        if limit is not None:
            other_ids = heapq.nsmallest(
                limit, other_ids, key=lambda entry_id: pair_rank(checked.model_uid, self._entries[entry_id].model_uid)
            )
        others = sorted((self._entries[entry_id] for entry_id in other_ids), key=lambda entry: entry.model_uid)
        return [self._artifact_match(checked, other) for other in others]

    def _artifact_match(self, checked: _Entry, other: _Entry) -> RedundancyMatch:
        return RedundancyMatch(
            kind=MatchKind.ARTIFACT_DIGEST,
            model_uid=checked.model_uid,
            version=checked.version,
            other_model_uid=other.model_uid,
            other_version=other.version,
            similarity=1.0,
            threshold=1.0,
            evidence={"artifact_sha256": checked.artifact_sha256},
        )

    def _feature_match(
        self, checked: _Entry, other: _Entry, shared: int, union: int, feature_count: int
    ) -> RedundancyMatch:
        assert checked.group is not None
        return RedundancyMatch(
            kind=MatchKind.FEATURE_SIMILARITY,
            model_uid=checked.model_uid,
            version=checked.version,
            other_model_uid=other.model_uid,
            other_version=other.version,
            similarity=shared / union,
            threshold=self.config.jaccard_threshold,
            evidence={
                "training_dataset_sha256": checked.group[0],
                "task_type": checked.group[1],
                "shared_feature_count": shared,
                "union_feature_count": union,
                "feature_count": feature_count,
                "other_feature_count": int(other.features.size),
            },
        )

    def _as_entry(self, subject: RedundancySubject) -> tuple[_Entry, npt.NDArray[np.uint64]]:
        """Return the subject as an entry (id 0, never stored) and the hashes of its feature names.

        The entry's features are the token ids of the names already indexed. A name never indexed
        cannot be shared with an indexed model, so it counts only toward the size of the
        subject's feature set.
        """
        known_ids, hashes = self._lookup_tokens(subject.feature_names)
        entry = _Entry(0, subject.model_uid, subject.version, subject.artifact_sha256, _group_of(subject), known_ids)
        return entry, hashes

    def _token_id(self, name: str) -> int:
        token_id = self._token_ids.get(name)
        if token_id is None:
            token_id = len(self._token_ids)
            self._token_ids[name] = token_id
            if token_id >= self._token_hashes.size:
                grown = np.zeros(self._token_hashes.size * 2, dtype=np.uint64)
                grown[: self._token_hashes.size] = self._token_hashes
                self._token_hashes = grown
            self._token_hashes[token_id] = self._hasher.name_hash(name)
        return token_id

    def _lookup_tokens(self, names: Iterable[str]) -> tuple[_Ids, npt.NDArray[np.uint64]]:
        """Return the sorted ids of the names already known, and the hashes of all names."""
        known: list[int] = []
        unknown_hashes: list[int] = []
        for name in names:
            token_id = self._token_ids.get(name)
            if token_id is None:
                unknown_hashes.append(self._hasher.name_hash(name))
            else:
                known.append(token_id)
        known_ids = np.array(sorted(known), dtype=np.int32)
        hashes = np.concatenate(
            [self._token_hashes[known_ids], np.array(unknown_hashes, dtype=np.uint64)]
        )
        return known_ids, hashes

    def _band_keys(
        self, signature: npt.NDArray[np.uint64], group: tuple[str, str]
    ) -> npt.NDArray[np.uint64]:
        partition = self._hasher.partition_key(*group)
        return self._hasher.band_keys(signature, self._bands, self._rows, partition)

    def _lsh_entry_ids(self, band_keys: npt.NDArray[np.uint64]) -> set[int]:
        found: set[int] = set()
        if self._base_keys.size:
            starts = np.searchsorted(self._base_keys, band_keys, side="left").tolist()
            stops = np.searchsorted(self._base_keys, band_keys, side="right").tolist()
            for start, stop in zip(starts, stops, strict=True):
                if stop > start:
                    found.update(self._base_ids[start:stop].tolist())
        for key in band_keys.tolist():
            found.update(self._recent.get(key, ()))
        return found


def _in_report_order(matches: Iterable[RedundancyMatch]) -> tuple[RedundancyMatch, ...]:
    """Artifact matches by model uid, then feature matches by decreasing similarity and uid."""
    return tuple(sorted(
        matches,
        key=lambda match: (match.kind is not MatchKind.ARTIFACT_DIGEST, -match.similarity, match.other_model_uid),
    ))


def _group_of(subject: RedundancySubject) -> tuple[str, str] | None:
    if not subject.training_dataset_sha256 or not subject.task_type:
        return None
    return (subject.training_dataset_sha256, subject.task_type)


def _discard(index: dict[_K, set[_V]], key: _K, value: _V) -> None:
    members = index.get(key)
    if members is None:
        return
    members.discard(value)
    if not members:
        del index[key]
