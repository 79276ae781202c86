"""Abuse limits of a gRPC server: message size, concurrent calls and per-principal rates.

gRPC itself enforces the message size and concurrency limits, which ServiceHost passes on. The
rate limit is a token bucket per principal, checked by the server interceptor.
"""

from __future__ import annotations

import argparse
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from modelward_common.arguments import GRPC_INT_MAX, environment_default, int_between, non_negative_float, positive_int


@dataclass(frozen=True)
class ServerLimits:
    # Largest request or response message in bytes; gRPC rejects a larger request with
    # RESOURCE_EXHAUSTED before any handler runs.
    max_message_bytes: int = 16 * 1024 * 1024
    # Calls served at once; gRPC rejects calls beyond this with RESOURCE_EXHAUSTED instead of
    # queueing them. Streams, such as health watches, count while they are open.
    max_concurrent_rpcs: int = 256
    # Calls per second that one principal may make on average; 0 turns rate limiting off.
    rate_per_second: float = 200.0
    # Calls one principal may make at once after being idle: the token bucket's size.
    rate_burst: int = 400


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ServerLimits()
    env = environment_default
    parser.add_argument("--max-message-bytes", type=int_between(1, GRPC_INT_MAX),
                        default=env("MODELWARD_MAX_MESSAGE_BYTES", str(defaults.max_message_bytes)),
                        help="largest gRPC message in bytes (env MODELWARD_MAX_MESSAGE_BYTES, default %(default)s)")
    parser.add_argument("--max-concurrent-rpcs", type=int_between(1, GRPC_INT_MAX),
                        default=env("MODELWARD_MAX_CONCURRENT_RPCS", str(defaults.max_concurrent_rpcs)),
                        help="calls served at once; more get RESOURCE_EXHAUSTED "
                             "(env MODELWARD_MAX_CONCURRENT_RPCS, default %(default)s)")
    parser.add_argument("--rate-limit", type=non_negative_float,
                        default=env("MODELWARD_RATE_LIMIT", str(defaults.rate_per_second)),
                        help="calls per second allowed to each principal, 0 for no limit "
                             "(env MODELWARD_RATE_LIMIT, default %(default)s)")
    parser.add_argument("--rate-burst", type=positive_int,
                        default=env("MODELWARD_RATE_BURST", str(defaults.rate_burst)),
                        help="calls a principal may make at once after being idle "
                             "(env MODELWARD_RATE_BURST, default %(default)s)")


def limits_from_arguments(args: argparse.Namespace) -> ServerLimits:
    checks = {
        "--max-message-bytes": args.max_message_bytes >= 1024,
        "--max-concurrent-rpcs": args.max_concurrent_rpcs >= 1,
        "--rate-limit": args.rate_limit >= 0,
        "--rate-burst": args.rate_burst >= 1,
    }
    for flag, valid in checks.items():
        if not valid:
            raise SystemExit(f"{flag} is out of range: use at least 1024 bytes, 1 call, 0 calls per second and 1 call")
    return ServerLimits(args.max_message_bytes, args.max_concurrent_rpcs, args.rate_limit, args.rate_burst)


class RateLimiter:
    """A token bucket per principal: `rate` tokens per second, at most `burst` stored.

    Once more than `max_principals` buckets exist, the least recently used are dropped, and a
    dropped principal starts again with a full bucket.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_principals: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_principals = max_principals
        self._clock = clock
        # principal -> (tokens, time of the last update), least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, principal: str) -> float:
        """Take one token; return 0 when granted, else the seconds until one is available."""
        now = self._clock()
        tokens, updated = self._buckets.pop(principal, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[principal] = (tokens, now)
        while len(self._buckets) > self.max_principals:
            self._buckets.popitem(last=False)
        return wait
