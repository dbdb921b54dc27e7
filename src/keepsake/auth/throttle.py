"""Login throttling: exponential back-off per account and per client address, with no
permanent lock-out (OWASP ASVS 5.0, 6.3.1 / 6.1.1).

After `free_attempts` failures in a row, each further attempt has to wait 1 s, then 2 s,
4 s ... up to `max_delay` seconds; an attempt made while waiting is answered 429 with
`Retry-After` and does not count. A successful login clears the account's count (not the
address's, or one good account would reset an attacker's address); a day without failures
forgets either. Counts live in the database, so every server process sees the same ones,
under a hash of the email or address, so the table names nobody.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from keepsake.auth.repository import AuthRepository
from keepsake.clock import Clock
from keepsake.errors import RateLimited
from keepsake.ids import token_hash
from keepsake.storage.db import Database

# A whole office or a phone carrier's NAT can share one address, so it gets this many times
# the failures one account gets before it has to wait.
ADDRESS_ALLOWANCE_FACTOR = 4
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class ThrottleKeys:
    account: str
    address: str | None


class LoginThrottle:
    def __init__(
        self,
        db: Database,
        repo: AuthRepository,
        clock: Clock,
        *,
        free_attempts: int,
        max_delay_seconds: float,
    ) -> None:
        self.db = db
        self.repo = repo
        self.clock = clock
        self.free_attempts = free_attempts
        self.max_delay = max_delay_seconds

    def keys(self, email: str, address: str | None) -> ThrottleKeys:
        return ThrottleKeys(
            token_hash("account:" + email.strip().lower()),
            token_hash("address:" + address) if address else None,
        )

    def _all(self, keys: ThrottleKeys) -> list[tuple[str, int]]:
        pairs = [(keys.account, self.free_attempts)]
        if keys.address:
            pairs.append((keys.address, self.free_attempts * ADDRESS_ALLOWANCE_FACTOR))
        return pairs

    def check(self, keys: ThrottleKeys) -> None:
        """Raise `RateLimited` (with Retry-After) while either key has to wait."""
        now = self.clock.now()
        wait = 0.0
        with self.db.read() as s:
            for key, _free in self._all(keys):
                row = self.repo.throttle(s, key)
                if row is not None and row.blocked_until is not None and row.blocked_until > now:
                    wait = max(wait, (row.blocked_until - now).total_seconds())
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                f"Too many failed attempts; try again in {seconds} seconds.",
                retry_after=seconds,
                headers={"Retry-After": str(seconds)},
            )

    def failure(self, keys: ThrottleKeys) -> None:
        now = self.clock.now()
        with self.db.write() as s:
            for key, free in self._all(keys):
                row = self.repo.throttle(s, key)
                failures = 1
                if row is not None and now - row.last_failure_at < FORGET_AFTER:
                    failures = row.failures + 1
                delay = self._delay(failures, free)
                until = now + timedelta(seconds=delay) if delay > 0 else None
                self.repo.set_throttle(s, key, failures, now, until)

    def success(self, keys: ThrottleKeys) -> None:
        with self.db.write() as s:
            self.repo.clear_throttle(s, keys.account)

    def _delay(self, failures: int, free: int) -> float:
        if failures < free:
            return 0.0
        # 2**(failures - free) grows past any cap quickly; stop before floats overflow.
        return float(min(2.0 ** min(failures - free, 60), self.max_delay))
