from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys

import pytest

from modelward_common.errors import InvalidArgument
from modelward_governance.domain.findings import FindingKind
from modelward_governance.domain.minhash import MinHasher, candidate_probability, choose_banding
from modelward_governance.domain.portfolio import Stage
from modelward_governance.domain.redundancy import (
    MAX_PARTNERS,
    MatchKind,
    RedundancyConfig,
    RedundancyIndex,
    RedundancyPair,
    RedundancySubject,
    pair_rank,
    reconcile_redundancy,
    redundancy_finding_drafts,
    subject_for_model,
)
from tests.unit.governance.builders import make_model, make_version

DATASET = "1" * 64
TASK = "binary_classification"
LSH_ONLY = RedundancyConfig(exact_group_limit=0)


def subject(
    uid: str,
    features: set[str] | frozenset[str],
    *,
    artifact: str = "",
    dataset: str = DATASET,
    task: str = TASK,
    version: int = 1,
) -> RedundancySubject:
    return RedundancySubject(uid, version, artifact, dataset, task, frozenset(features))


def names(prefix: str, count: int) -> set[str]:
    return {f"{prefix}_{index}" for index in range(count)}


def pair_with_similarity(rng: random.Random, shared: int, own: int) -> tuple[set[str], set[str]]:
    """Two feature sets with `shared` common names and `own` names each of their own, so their
    Jaccard similarity is shared / (shared + 2 * own)."""
    tag = rng.getrandbits(48)
    common = {f"c{tag}_{index}" for index in range(shared)}
    left = common | {f"l{tag}_{index}" for index in range(own)}
    right = common | {f"r{tag}_{index}" for index in range(own)}
    return left, right


def test_default_banding_and_false_negative_rate() -> None:
    config = RedundancyConfig()

    assert config.banding() == (18, 7)
    assert choose_banding(128, 0.8, 0.02) == (18, 7)
    assert config.false_negative_probability() == pytest.approx(0.0145, abs=0.0005)
    assert config.false_negative_probability(0.9) < 1e-5
    assert candidate_probability(0.3, 18, 7) < 0.005


def test_config_validation() -> None:
    with pytest.raises(InvalidArgument, match="jaccard_threshold 1.5 is invalid"):
        RedundancyConfig(jaccard_threshold=1.5)
    with pytest.raises(InvalidArgument, match="must be at most num_permutations"):
        RedundancyConfig(bands=20, rows_per_band=7)
    with pytest.raises(InvalidArgument, match="set both bands and rows_per_band"):
        RedundancyConfig(bands=20)


def test_minhash_estimates_jaccard() -> None:
    hasher = MinHasher(256, seed=7)
    left, right = pair_with_similarity(random.Random(1), shared=60, own=20)

    agreement = (hasher.signature(left) == hasher.signature(right)).mean()

    assert agreement == pytest.approx(0.6, abs=0.1)


def test_minhash_ignores_python_hash_seed() -> None:
    script = (
        "from modelward_governance.domain.minhash import MinHasher;"
        "print(MinHasher(8, seed=3).signature(['age', 'income', 'plan']).tolist())"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        )
        outputs.add(completed.stdout)

    assert len(outputs) == 1


def test_same_artifact_under_two_models() -> None:
    index = RedundancyIndex()
    index.upsert(subject("uid-a", names("a", 10), artifact="f" * 64))
    index.upsert(subject("uid-b", names("b", 10), artifact="e" * 64))

    matches = index.find_matches(subject("uid-c", names("c", 10), artifact="f" * 64, version=3))

    assert len(matches) == 1
    match = matches[0]
    assert match.kind is MatchKind.ARTIFACT_DIGEST
    assert (match.model_uid, match.version, match.other_model_uid, match.other_version) == (
        "uid-c",
        3,
        "uid-a",
        1,
    )
    assert match.evidence == {"artifact_sha256": "f" * 64}


def test_model_never_matches_itself() -> None:
    index = RedundancyIndex()
    features = names("f", 30)
    index.upsert(subject("uid-a", features, artifact="f" * 64))

    assert index.find_matches(subject("uid-a", features, artifact="f" * 64, version=2)) == ()


def test_near_duplicate_on_same_dataset_and_task() -> None:
    index = RedundancyIndex()
    left, right = pair_with_similarity(random.Random(2), shared=90, own=5)
    index.upsert(subject("uid-a", left))

    matches = index.find_matches(subject("uid-b", right))

    assert len(matches) == 1
    match = matches[0]
    assert match.kind is MatchKind.FEATURE_SIMILARITY
    assert match.similarity == pytest.approx(90 / 100)
    assert match.threshold == 0.8
    assert match.evidence["shared_feature_count"] == 90
    assert match.evidence["union_feature_count"] == 100
    assert match.evidence["training_dataset_sha256"] == DATASET


def test_similar_features_on_other_data_do_not_match() -> None:
    index = RedundancyIndex()
    left, right = pair_with_similarity(random.Random(3), shared=90, own=5)
    index.upsert(subject("uid-a", left))

    assert index.find_matches(subject("uid-b", right, dataset="2" * 64)) == ()
    assert index.find_matches(subject("uid-b", right, task="regression")) == ()
    assert index.find_matches(subject("uid-b", right, dataset="")) == ()


def test_below_threshold_does_not_match() -> None:
    index = RedundancyIndex()
    left, right = pair_with_similarity(random.Random(4), shared=70, own=10)
    index.upsert(subject("uid-a", left))

    assert index.find_matches(subject("uid-b", right)) == ()


def test_threshold_is_inclusive() -> None:
    index = RedundancyIndex()
    left, right = pair_with_similarity(random.Random(5), shared=80, own=10)
    index.upsert(subject("uid-a", left))

    matches = index.find_matches(subject("uid-b", right))

    assert [match.similarity for match in matches] == [pytest.approx(0.8)]


def test_lsh_recall_at_threshold() -> None:
    rng = random.Random(11)
    index = RedundancyIndex(LSH_ONLY)
    queries = []
    for number in range(400):
        left, right = pair_with_similarity(rng, shared=80, own=10)
        index.upsert(subject(f"uid-{number}", left))
        queries.append(subject(f"query-{number}", right))
    # Filler models in the same group, so the group is far above exact_group_limit.
    for number in range(600):
        index.upsert(subject(f"filler-{number}", {f"filler_{number}_{i}" for i in range(50)}))

    found = sum(1 for query in queries if index.find_matches(query))

    # Expected misses: 400 * 1.45% = 5.8. A binomial count above 20 has probability below 1e-6.
    assert found >= 380, f"LSH found {found} of 400 pairs at Jaccard 0.8"


def test_lsh_finds_every_closer_pair() -> None:
    rng = random.Random(12)
    index = RedundancyIndex(LSH_ONLY)
    queries = []
    for number in range(200):
        left, right = pair_with_similarity(rng, shared=90, own=5)
        index.upsert(subject(f"uid-{number}", left))
        queries.append(subject(f"query-{number}", right))

    assert all(len(index.find_matches(query)) == 1 for query in queries)


def test_lsh_rarely_proposes_dissimilar_sets() -> None:
    rng = random.Random(13)
    index = RedundancyIndex(LSH_ONLY)
    queries = []
    for number in range(300):
        left, right = pair_with_similarity(rng, shared=30, own=35)
        index.upsert(subject(f"uid-{number}", left))
        queries.append(subject(f"query-{number}", right))

    candidates = sum(len(index.lsh_candidates(query)) for query in queries)
    matches = sum(len(index.find_matches(query)) for query in queries)

    # Jaccard 0.3: each pair is a candidate with probability 0.4%.
    assert candidates <= 10
    assert matches == 0


def test_removed_model_no_longer_matches() -> None:
    for config in (RedundancyConfig(), LSH_ONLY):
        index = RedundancyIndex(config)
        left, right = pair_with_similarity(random.Random(6), shared=90, own=5)
        index.upsert(subject("uid-a", left, artifact="f" * 64))

        assert index.remove("uid-a")
        assert not index.remove("uid-a")
        assert "uid-a" not in index
        assert len(index) == 0
        assert index.find_matches(subject("uid-b", right, artifact="f" * 64)) == ()


def test_superseding_version_replaces_entry() -> None:
    index = RedundancyIndex(LSH_ONLY)
    left, right = pair_with_similarity(random.Random(7), shared=90, own=5)
    index.upsert(subject("uid-a", left, version=1))

    index.upsert(subject("uid-a", names("new", 40), version=2))

    assert len(index) == 1
    assert index.find_matches(subject("uid-b", right)) == ()
    assert index.find_matches(subject("uid-b", names("new", 40)))[0].other_version == 2


def test_matches_survive_compaction() -> None:
    rng = random.Random(8)
    index = RedundancyIndex(LSH_ONLY)
    pairs = [pair_with_similarity(rng, shared=95, own=2) for _ in range(3000)]
    for number, (left, _) in enumerate(pairs):
        index.upsert(subject(f"uid-{number}", left))
    for number in range(0, 3000, 2):
        index.remove(f"uid-{number}")
    index.compact()

    for number in (1, 1501, 2999):
        assert [
            match.other_model_uid
            for match in index.find_matches(subject("query", pairs[number][1]))
        ] == [f"uid-{number}"]
    assert index.find_matches(subject("query", pairs[1500][1])) == ()


def test_reconcile_redundancy_detects_and_clears() -> None:
    index = RedundancyIndex()
    left, right = pair_with_similarity(random.Random(9), shared=90, own=5)
    index.upsert(subject("uid-a", left))
    stale = RedundancyPair(MatchKind.ARTIFACT_DIGEST, frozenset({"uid-b", "uid-z"}))
    unrelated = RedundancyPair(MatchKind.ARTIFACT_DIGEST, frozenset({"uid-x", "uid-y"}))

    matches = index.find_matches(subject("uid-b", right))
    first = reconcile_redundancy("uid-b", [stale, unrelated], matches)
    again = reconcile_redundancy("uid-b", [matches[0].pair], matches)
    deleted = reconcile_redundancy("uid-b", [matches[0].pair], ())

    assert [match.other_model_uid for match in first.detected] == ["uid-a"]
    assert first.cleared == (stale,)
    assert again.detected == ()
    assert again.cleared == ()
    assert deleted.cleared == (matches[0].pair,)


def test_finding_drafts_for_matches() -> None:
    index = RedundancyIndex()
    index.upsert(subject("uid-a", names("a", 5), artifact="f" * 64))

    drafts = redundancy_finding_drafts(
        index.find_matches(subject("uid-b", names("b", 5), artifact="f" * 64))
    )

    assert [draft.key.check_id for draft in drafts] == ["redundant.artifact_digest.uid-a"]
    assert drafts[0].key.kind is FindingKind.REDUNDANT_MODEL
    assert "the same artifact as version 1 of model uid-a" in drafts[0].message


def test_subject_prefers_production_version() -> None:
    model = make_model(
        make_version(1, stage=Stage.PRODUCTION, feature_names=("a",)),
        make_version(2, feature_names=("b",)),
    )
    draft_only = make_model(make_version(1), make_version(2, feature_names=("b",)))

    chosen = subject_for_model(model)
    latest = subject_for_model(draft_only)

    assert chosen is not None and chosen.version == 1
    assert chosen.feature_names == frozenset({"a"})
    assert chosen.task_type == "binary_classification"
    assert latest is not None and latest.version == 2


def test_check_equals_separate_calls() -> None:
    """The governance service indexes and matches each new version in one call, `check`. With no
    pairs flagged and no limit reached, it must give what the two separate calls give, in LSH
    mode and in exact mode, artifacts included."""
    rng = random.Random(11)
    pairs = [pair_with_similarity(rng, shared=rng.randrange(20, 60), own=rng.randrange(1, 8)) for _ in range(400)]
    for config in (LSH_ONLY, RedundancyConfig()):
        config = dataclasses.replace(config, max_partners=MAX_PARTNERS)
        combined, separate = RedundancyIndex(config), RedundancyIndex(config)
        for number, (left, right) in enumerate(pairs):
            artifact = f"{number % 7:064d}"
            for uid, features in ((f"left-{number}", left), (f"right-{number}", right)):
                item = subject(uid, features, artifact=artifact, dataset=f"{number % 3}" * 64)
                separate.upsert(item)
                assert combined.check(item, []) == separate.find_matches(item)


def test_band_keys_depend_on_row_order() -> None:
    hasher = MinHasher(8, seed=1)
    signature = hasher.signature(["a", "b", "c"])
    swapped = signature.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert signature[0] != signature[1]
    assert hasher.band_keys(signature, 2, 4, 7)[0] != hasher.band_keys(swapped, 2, 4, 7)[0]
    assert (hasher.band_keys(signature, 2, 4, 7)[1:] == hasher.band_keys(swapped, 2, 4, 7)[1:]).all()
    assert (hasher.band_keys(signature, 2, 4, 7) != hasher.band_keys(signature, 2, 4, 8)).all()


def test_matches_survive_recent_key_merges() -> None:
    """Recent band keys merge into the sorted arrays every few thousand entries. Entries indexed
    before, between and after merges are all found, and only their own partners match."""
    rng = random.Random(9)
    index = RedundancyIndex(LSH_ONLY)
    pairs = [pair_with_similarity(rng, shared=95, own=2) for _ in range(9000)]
    for number, (left, _) in enumerate(pairs):
        index.upsert(subject(f"uid-{number}", left))
    index.upsert(subject("uid-0", pairs[0][0], version=2))
    for number in range(0, 9000, 450):
        found = [match.other_model_uid for match in index.find_matches(subject("query", pairs[number][1]))]
        assert found == [f"uid-{number}"]


def _check_all(index: RedundancyIndex, subjects: list[RedundancySubject]) -> dict[RedundancyPair, None]:
    """Check the subjects in order as the service does: each check is given the pairs flagged so
    far, and its result replaces the checked model's pairs. Return the flagged pairs in order."""
    flagged: dict[RedundancyPair, None] = {}
    for checked in subjects:
        mine = [pair for pair in flagged if checked.model_uid in pair.model_uids]
        changes = reconcile_redundancy(checked.model_uid, mine, index.check(checked, mine))
        for pair in changes.cleared:
            del flagged[pair]
        flagged.update((match.pair, None) for match in changes.detected)
    return flagged


def _pairs_of(flagged: dict[RedundancyPair, None], uid: str, kind: MatchKind) -> int:
    return sum(1 for pair in flagged if uid in pair.model_uids and pair.kind is kind)


@pytest.mark.parametrize("config", [RedundancyConfig(max_partners=3), RedundancyConfig(max_partners=3, exact_group_limit=0)])
def test_check_tops_up_to_limit(config: RedundancyConfig) -> None:
    """Forty models with one feature set and one artifact are all redundant with each other: a
    check flags each new one in three pairs of each kind, not in 39."""
    index = RedundancyIndex(config)
    subjects = [subject(f"uid-{number:02d}", names("same", 30), artifact="a" * 64) for number in range(40)]

    flagged = _check_all(index, subjects)

    for kind in MatchKind:
        counts = [_pairs_of(flagged, f"uid-{number:02d}", kind) for number in range(40)]
        assert min(counts) == 3
        assert sum(1 for pair in flagged if pair.kind is kind) == 3 * 39 - 3
        # Newcomers pick partners by pair rank, so an early model gains about 3 / k pairs from
        # the k-th newcomer after it: about 3 * ln(40) in all, not one from each.
        assert max(counts) <= 3 + 3 * sum(1 / k for k in range(1, 40))
    # Equally similar: the three of lowest pair rank.
    last = index.check(subject("uid-new", names("same", 30), artifact="a" * 64), [])
    expected = set(sorted((f"uid-{number:02d}" for number in range(40)), key=lambda uid: pair_rank("uid-new", uid))[:3])
    assert {match.other_model_uid for match in last if match.kind is MatchKind.FEATURE_SIMILARITY} == expected
    assert {match.other_model_uid for match in last if match.kind is MatchKind.ARTIFACT_DIGEST} == expected


def test_recheck_of_unchanged_model_changes_nothing() -> None:
    """A model whose tags or aliases change is checked again with the same version. That must not
    make it the partner every newcomer picks."""
    config = RedundancyConfig(max_partners=3)
    subjects = [subject(f"uid-{number:02d}", names("same", 30), artifact="a" * 64) for number in range(30)]
    interleaved = [item for number, later in enumerate(subjects) for item in ((subjects[0], later) if number else (later,))]

    plain = _check_all(RedundancyIndex(config), subjects)
    with_rechecks = _check_all(RedundancyIndex(config), interleaved)

    assert set(with_rechecks) == set(plain)


def test_check_prefers_most_similar() -> None:
    index = RedundancyIndex(RedundancyConfig(max_partners=2))
    base = names("base", 100)
    for number, extra in enumerate([20, 1, 10, 5]):
        index.upsert(subject(f"uid-{number}", base | names(f"own{number}", extra)))

    matches = index.check(subject("uid-new", base), [])

    assert [match.other_model_uid for match in matches] == ["uid-1", "uid-3"]
    assert [round(match.similarity, 3) for match in matches] == [round(100 / 101, 3), round(100 / 105, 3)]


def test_check_keeps_matching_pairs() -> None:
    index = RedundancyIndex(RedundancyConfig(max_partners=1))
    shared = names("shared", 50)
    for uid in ("uid-a", "uid-b", "uid-c"):
        index.upsert(subject(uid, shared))
    flagged = [
        RedundancyPair(MatchKind.FEATURE_SIMILARITY, frozenset({"uid-x", "uid-a"})),
        RedundancyPair(MatchKind.FEATURE_SIMILARITY, frozenset({"uid-x", "uid-b"})),
        RedundancyPair(MatchKind.ARTIFACT_DIGEST, frozenset({"uid-x", "uid-c"})),
    ]

    # Two flagged pairs still match: both stay although the limit is one, and none is added.
    matches = index.check(subject("uid-x", shared), flagged)
    assert [match.other_model_uid for match in matches] == ["uid-a", "uid-b"]
    changes = reconcile_redundancy("uid-x", flagged, matches)
    assert changes.detected == ()
    assert changes.cleared == (flagged[2],)

    # With features no other model has, no pair matches any more.
    assert index.check(subject("uid-x", names("other", 50)), flagged) == ()
    # With only the stale artifact pair flagged, the check adds the match of lowest pair rank.
    again = index.check(subject("uid-x", shared), [flagged[2]])
    lowest = min(("uid-a", "uid-b", "uid-c"), key=lambda uid: pair_rank("uid-x", uid))
    assert [match.other_model_uid for match in again] == [lowest]
    assert again[0].kind is MatchKind.FEATURE_SIMILARITY


def test_match_pair_from_either_side() -> None:
    index = RedundancyIndex()
    left, right = pair_with_similarity(random.Random(3), shared=45, own=5)
    index.upsert(subject("uid-a", left, artifact="b" * 64))
    index.upsert(subject("uid-b", right, artifact="b" * 64, version=4))
    features = RedundancyPair(MatchKind.FEATURE_SIMILARITY, frozenset({"uid-a", "uid-b"}))
    artifact = RedundancyPair(MatchKind.ARTIFACT_DIGEST, frozenset({"uid-a", "uid-b"}))

    seen_from_a = index.match_pair("uid-a", features)
    assert seen_from_a is not None
    assert seen_from_a == index.find_matches(subject("uid-a", left, artifact="b" * 64))[1]
    seen_from_b = index.match_pair("uid-b", features)
    assert seen_from_b is not None and (seen_from_b.other_model_uid, seen_from_b.other_version) == ("uid-a", 1)
    assert seen_from_b.similarity == seen_from_a.similarity == 45 / 55
    assert index.match_pair("uid-a", artifact) is not None
    assert index.match_pair("uid-z", features) is None
    index.remove("uid-b")
    assert index.match_pair("uid-a", features) is None


def test_max_partners_out_of_range() -> None:
    for bad in (0, 1001):
        with pytest.raises(InvalidArgument) as raised:
            RedundancyConfig(max_partners=bad)
        assert "max_partners" in str(raised.value)
        assert "1 to 1000" in str(raised.value)
