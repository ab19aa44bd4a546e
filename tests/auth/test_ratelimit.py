"""The rate limiter against the real Redis, and its in-memory fallback when Redis is unreachable."""

import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from limits.errors import StorageError

from sentinel.auth.principal import Principal, Role
from sentinel.auth.ratelimit import RateLimiter, rate_limit_key

pytestmark = pytest.mark.integration


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"vs:test:ratelimit:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def limiter(redis_url: str, key_prefix: str) -> RateLimiter:
    return RateLimiter(redis_url, key_prefix=key_prefix)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_allowed(limiter: RateLimiter, limit: str, key: str, deadline_s: float) -> float:
    """Retry as a well-behaved client would (honouring retry_after) until allowed; return the time it took."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        result = limiter.hit(limit, key)
        if result.allowed:
            return time.monotonic() - start
        time.sleep(min(max(result.retry_after, 0.01), 0.2))
    raise AssertionError(f"{key} still limited after {deadline_s}s")


def test_allows_the_limit_then_refuses_with_retry_after_then_recovers(limiter: RateLimiter) -> None:
    results = [limiter.hit("3/second", "user:1") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert {r.backend for r in results} == {"redis"}
    refused = results[-1]
    assert 0 < refused.retry_after <= 1.0
    assert refused.retry_after_header == "1"

    waited = wait_until_allowed(limiter, "3/second", "user:1", deadline_s=3.0)
    assert waited <= 1.5


def test_the_window_is_shared_by_every_replica(redis_url: str, key_prefix: str) -> None:
    replica_a = RateLimiter(redis_url, key_prefix=key_prefix)
    replica_b = RateLimiter(redis_url, key_prefix=key_prefix)
    assert replica_a.hit("2/minute", "key:42").allowed
    assert replica_b.hit("2/minute", "key:42").allowed
    refused = replica_a.hit("2/minute", "key:42")
    assert not refused.allowed
    assert 55 < refused.retry_after <= 60


def test_callers_are_limited_separately(limiter: RateLimiter) -> None:
    assert limiter.hit("1/minute", "ip:10.0.0.1").allowed
    assert not limiter.hit("1/minute", "ip:10.0.0.1").allowed
    assert limiter.hit("1/minute", "ip:10.0.0.2").allowed


def test_unreachable_redis_falls_back_to_limiting_in_memory() -> None:
    limiter = RateLimiter(f"redis://127.0.0.1:{closed_port()}/0", retry_after_seconds=60)
    results = [limiter.hit("3/minute", "key:7") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert {r.backend for r in results} == {"memory"}
    assert limiter.backend == "memory"
    assert results[-1].retry_after > 0


def test_redis_is_retried_after_the_backoff_not_on_every_request(
    limiter: RateLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(limiter, "_monotonic", lambda: clock[0])
    redis_hit = limiter._redis.hit
    attempts = []

    def outage(*args: object, **kwargs: object) -> bool:
        attempts.append(args)
        raise StorageError(redis.ConnectionError("simulated outage"))

    monkeypatch.setattr(limiter._redis, "hit", outage)
    assert [limiter.hit("5/minute", "user:3").backend for _ in range(3)] == ["memory"] * 3
    assert len(attempts) == 1  # one failed try, then memory until the backoff has passed

    clock[0] += 5.0  # the default backoff
    assert limiter.hit("5/minute", "user:3").backend == "memory"
    assert len(attempts) == 2

    monkeypatch.setattr(limiter._redis, "hit", redis_hit)  # Redis is back
    assert limiter.hit("5/minute", "user:3").backend == "memory"  # still inside the new backoff
    clock[0] += 5.0
    assert limiter.hit("5/minute", "user:3").backend == "redis"
    assert limiter.backend == "redis"


def test_bucket_is_the_api_key_else_the_user_else_the_ip() -> None:
    key = Principal.for_api_key(key_id=4, org_id=1, scopes=frozenset(), user_id=9)
    user = Principal.for_user(user_id=9, org_id=1, role=Role.VIEWER)
    assert rate_limit_key(key, "1.2.3.4") == "key:4"
    assert rate_limit_key(user, "1.2.3.4") == "user:9"
    assert rate_limit_key(None, "1.2.3.4") == "ip:1.2.3.4"
    with pytest.raises(ValueError, match="principal or a client IP"):
        rate_limit_key(None, None)
