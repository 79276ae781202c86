"""Retry policy for calls that fail with UNAVAILABLE, or with CANCELLED from the server's side.

A server that shuts down finishes the calls it has started, but gRPC cancels the calls it had
received and not yet started, and their callers get CANCELLED. Only calls that are safe to repeat
are retried: reads, and creates that carry a request id (the server returns the first result for
a repeated id). The wait before retry n (1-based) is drawn
uniformly from [0, min(max_backoff, initial_backoff * multiplier ** (n - 1))] seconds, the
"full jitter" scheme, so clients that failed together do not retry together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from modelward_sdk.errors import ConfigurationError

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


@dataclass(frozen=True)
class RetryPolicy:
    # Attempts in total, the first one included; 1 disables retries.
    max_attempts: int = 5
    # Upper bound of the first wait, in seconds.
    initial_backoff: float = 0.1
    # Upper bound of any wait, in seconds.
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts {self.max_attempts} is invalid: use 1 or more")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError("initial_backoff and max_backoff must be 0 or more seconds")
        if self.multiplier < 1:
            raise ConfigurationError(f"multiplier {self.multiplier} is invalid: use 1 or more")

    def backoff_ceiling(self, retry: int) -> float:
        """Upper bound of the wait before retry number `retry` (1-based), in seconds."""
        return float(min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1)))

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Draw the wait before retry number `retry` (1-based), in seconds."""
        return (rng or random).uniform(0.0, self.backoff_ceiling(retry))


NO_RETRY = RetryPolicy(max_attempts=1)
