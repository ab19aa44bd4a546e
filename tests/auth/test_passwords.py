from argon2 import PasswordHasher

from sentinel.auth.passwords import DEFAULT_HASHER, hash_password, needs_rehash, verify_password

# Cheap parameters keep the tests fast; one test uses the production hasher.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verify_calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verify_calls += 1
        return super().verify(hash, password)


def test_production_hash_round_trips_and_matches_the_users_table_check() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")  # users.password_hash CHECK (LIKE '$argon2%')
    assert verify_password("correct horse battery staple", stored)
    assert not needs_rehash(stored, DEFAULT_HASHER)


def test_wrong_password_is_refused() -> None:
    stored = hash_password("s3cret", CHEAP)
    assert not verify_password("s3cret ", stored, CHEAP)
    assert not verify_password("", stored, CHEAP)


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same", CHEAP) != hash_password("same", CHEAP)


def test_unknown_user_still_costs_one_verify() -> None:
    hasher = CountingHasher()
    assert not verify_password("anything", None, hasher)
    assert hasher.verify_calls == 1


def test_corrupt_stored_hash_is_a_mismatch_not_a_crash() -> None:
    assert not verify_password("x", "$argon2id$garbage", CHEAP)
    assert not verify_password("x", "plaintext-from-an-old-system", CHEAP)


def test_hash_made_with_weaker_parameters_needs_rehash() -> None:
    weak = hash_password("pw", CHEAP)
    assert needs_rehash(weak, DEFAULT_HASHER)
    assert not needs_rehash(weak, CHEAP)
