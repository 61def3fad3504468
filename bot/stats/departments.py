"""The sender's department for the statistics, looked up without ever holding up a message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

UNKNOWN_DEPARTMENT = "未設定"
"""Shown for people whose Entra ``department`` is empty or could not be read in time."""

DepartmentLookup = Callable[[str], Coroutine[Any, Any, str | None]]
"""``async (aad_object_id) -> department or None``, e.g. ``GraphClient.user_department``."""


class DepartmentResolver:
    """Caches departments for a while and answers "未設定" rather than wait on a slow look-up.

    A look-up that outlives ``timeout_s`` keeps running in the background (one per person at a
    time), so the person's next message finds the answer in the cache.
    """

    def __init__(
        self,
        lookup: DepartmentLookup,
        *,
        ttl_s: float = 6 * 3600,
        failure_ttl_s: float = 300.0,
        timeout_s: float = 0.3,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._timeout_s = timeout_s
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[str | None]] = {}
        self.lookups = 0

    def cached(self, aad_id: str | None) -> str | None:
        """The cached department (possibly "未設定"), or None when not cached or expired."""
        if not aad_id:
            return UNKNOWN_DEPARTMENT
        entry = self._cache.get(aad_id)
        if entry is None:
            return None
        expires_at, value = entry
        if self._clock() >= expires_at:
            del self._cache[aad_id]
            return None
        self._cache.move_to_end(aad_id)
        return value

    async def resolve(self, aad_id: str | None) -> str:
        """The department of ``aad_id``; "未設定" when unknown, failing or slower than the timeout."""
        hit = self.cached(aad_id)
        if hit is not None:
            return hit
        assert aad_id  # cached() answered for the empty id
        task = self._inflight.get(aad_id)
        if task is None:
            self.lookups += 1
            task = asyncio.get_running_loop().create_task(self._lookup(aad_id), name="department-lookup")
            self._inflight[aad_id] = task
            task.add_done_callback(lambda done, key=aad_id: self._finished(key, done))  # type: ignore[misc]
        done, _ = await asyncio.wait({task}, timeout=self._timeout_s)
        if not done:
            return UNKNOWN_DEPARTMENT
        return self.cached(aad_id) or UNKNOWN_DEPARTMENT

    def _finished(self, aad_id: str, task: asyncio.Task[str | None]) -> None:
        self._inflight.pop(aad_id, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            # No id and no text in the log line: the look-up's failure is all that matters.
            log.warning("department look-up failed: %s", type(error).__name__)
            self._put(aad_id, UNKNOWN_DEPARTMENT, self._failure_ttl_s)
            return
        value = (task.result() or "").strip()
        # GraphClient answers None both for "no department" and for a failed read, so an empty
        # answer is kept briefly only: a passing Graph outage must not label people for hours.
        self._put(aad_id, value or UNKNOWN_DEPARTMENT, self._ttl_s if value else self._failure_ttl_s)

    def _put(self, aad_id: str, value: str, ttl_s: float) -> None:
        self._cache[aad_id] = (self._clock() + ttl_s, value[:200])
        self._cache.move_to_end(aad_id)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def close(self) -> None:
        """Cancel look-ups still running (at shutdown)."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
