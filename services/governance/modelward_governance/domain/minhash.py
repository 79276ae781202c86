"""MinHash signatures and LSH banding for feature-name sets.

A MinHash signature has one value per hash function i: the minimum, over the set's names, of
`mix64(h(name) XOR k_i)`. h is a 64-bit keyed BLAKE2b hash of the name, k_i a 64-bit key per
function and mix64 the SplitMix64 finalizer, a bijection with full avalanche, so the functions
behave as independent random permutations. Two sets agree on one signature value with
probability equal to their Jaccard similarity s. Banding splits the signature into `bands`
groups of `rows` values; two sets share at least one band, and so become candidates, with
probability `1 - (1 - s**rows)**bands`. That S-curve rises steeply around
`(1 / bands) ** (1 / rows)`.

Hashing is deterministic across processes and platforms: names are hashed with keyed BLAKE2b
(not Python's `hash()`, which is salted per process) and the keys derive from the seed through
BLAKE2b too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from modelward_common.errors import InvalidArgument

Signature = npt.NDArray[np.uint64]
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two sets with this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def choose_banding(
    num_permutations: int, threshold: float, max_false_negative: float
) -> tuple[int, int]:
    """Pick (bands, rows) for a threshold: the most rows per band, and so the fewest false
    candidates below the threshold, whose false-negative probability at the threshold is at
    most `max_false_negative`.

    Bands take as many permutations as fit (`bands = num_permutations // rows`).
    """
    if not 0.0 < threshold <= 1.0:
        raise InvalidArgument("threshold", threshold, "use a Jaccard similarity in (0, 1]")
    for rows in range(num_permutations, 0, -1):
        bands = num_permutations // rows
        if 1.0 - candidate_probability(threshold, bands, rows) <= max_false_negative:
            return bands, rows
    raise InvalidArgument(
        "max_false_negative",
        max_false_negative,
        f"no banding of {num_permutations} permutations reaches it at threshold {threshold}; "
        "raise num_permutations or max_false_negative",
        problem="is unreachable",
    )


def _blake2b_int(data: bytes, key: bytes, size: int) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=size, key=key).digest(), "big")


class MinHasher:
    """Computes MinHash signatures and band keys with fixed, seeded permutations."""

    def __init__(self, num_permutations: int, seed: int) -> None:
        if num_permutations < 1:
            raise InvalidArgument("num_permutations", num_permutations, "use at least 1")
        self.num_permutations = num_permutations
        self.seed = seed
        self._key = seed.to_bytes(8, "big", signed=False)
        self._function_keys = np.array(
            [
                _blake2b_int(f"permutation:{index}".encode(), self._key, 8)
                for index in range(num_permutations)
            ],
            dtype=np.uint64,
        )
        self._band_salts: dict[tuple[int, int], tuple[Signature, Signature]] = {}

    def name_hash(self, name: str) -> int:
        """64-bit keyed BLAKE2b hash of one feature name."""
        return _blake2b_int(name.encode("utf-8"), self._key, 8)

    def signature(self, names: Iterable[str]) -> Signature:
        return self.signature_of_hashes(
            np.array([self.name_hash(name) for name in names], dtype=np.uint64)
        )

    def signature_of_hashes(self, hashes: npt.NDArray[np.uint64]) -> Signature:
        """Signature from precomputed `name_hash` values. An empty set gets all values 2**64 - 1."""
        if hashes.size == 0:
            return np.full(self.num_permutations, _EMPTY, dtype=np.uint64)
        values = _mix64(self._function_keys[:, None] ^ hashes[None, :])
        minimum: Signature = values.min(axis=1)
        return minimum

    def band_keys(self, signature: Signature, bands: int, rows: int, partition: int) -> Signature:
        """Return one 64-bit key per band, mixed with `partition`.

        Each value of a band is salted by its row and mixed, the band's values are combined
        with XOR, and the result is mixed once more with the band's salt and the partition. A
        salt per row keeps the key sensitive to the order of the values; the whole computation
        is a few array operations, whatever the number of rows.

        Sets in different partitions (here: different training dataset and task type) get
        different keys for the same band, so an LSH table shared by all partitions only yields
        candidates from the query's own partition, apart from 64-bit key collisions.
        """
        band_salts, row_salts = self._salts(bands, rows)
        values = _mix64(signature[: bands * rows].reshape(bands, rows) ^ row_salts)
        combined: Signature = np.bitwise_xor.reduce(values, axis=1)
        return _mix64(combined ^ band_salts ^ np.uint64(partition))

    def _salts(self, bands: int, rows: int) -> tuple[Signature, Signature]:
        """Seeded salts of each band and of each row within a band, computed once per shape."""
        salts = self._band_salts.get((bands, rows))
        if salts is None:
            salts = (
                np.array([_blake2b_int(f"band:{i}".encode(), self._key, 8) for i in range(bands)], dtype=np.uint64),
                np.array([_blake2b_int(f"row:{i}".encode(), self._key, 8) for i in range(rows)], dtype=np.uint64),
            )
            self._band_salts[(bands, rows)] = salts
        return salts

    def partition_key(self, *parts: str) -> int:
        return _blake2b_int("\x00".join(parts).encode("utf-8"), self._key, 8)


def _mix64(values: Signature) -> Signature:
    """Apply the SplitMix64 finalizer (Steele, Lea and Flood, 2014) element-wise, in place.

    uint64 arrays wrap on overflow, which the finalizer relies on.
    """
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values
