"""Rows written together a moment after they come, in one transaction, instead of one each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Row = TypeVar("Row")

DEFAULT_DELAY_S = 0.02
DEFAULT_MAX_ROWS = 256


class WriteBehind(Generic[Row]):
    """Collects rows and hands them to ``write`` in batches: when ``max_rows`` are waiting, or
    ``delay_s`` after the first of a batch came.

    For records nobody waits for (where a nudge went, for a later edit): one write per batch
    instead of one per row, which on SQLite saves a writer-thread hand-over per row. Whoever
    reads those records calls ``settle`` first, so a read sees every row added before it. A row
    is stored at most ``delay_s`` after it came, or when the database closes (``settle``); a
    process killed in between loses it. A failed batch is logged (what failed and how many
    rows, never their content) and dropped.
    """

    def __init__(
        self,
        write: Callable[[list[Row]], Awaitable[None]],
        *,
        what: str,
        delay_s: float = DEFAULT_DELAY_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self._write = write
        self._what = what
        self._delay_s = delay_s
        self._max_rows = max_rows
        self._rows: list[Row] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._writing: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Rows not yet handed to ``write``."""
        return len(self._rows)

    def add(self, row: Row) -> None:
        """Queue a row (inside a running event loop)."""
        self._rows.append(row)
        if len(self._rows) >= self._max_rows:
            self._start_write()
        elif self._timer is None or self._timer_loop is None or self._timer_loop.is_closed():
            # (a timer of an event loop that has closed since will never fire: start another)
            self._timer_loop = asyncio.get_running_loop()
            self._timer = self._timer_loop.call_later(self._delay_s, self._start_write)

    async def settle(self) -> None:
        """Write the waiting rows now and wait until every batch under way is stored (or failed).

        Rows added meanwhile are written too before it returns. A caller cancelled while it
        waits does not cancel the writes: they go on, and their rows are stored.
        """
        while self._rows or self._writing:
            self._start_write()
            await asyncio.shield(asyncio.gather(*self._writing))

    def _start_write(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        task = asyncio.get_running_loop().create_task(self._write_batch(rows), name=f"write-{self._what}")
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write_batch(self, rows: list[Row]) -> None:
        try:
            await self._write(rows)
        except Exception as error:
            log.error("writing %d %s failed: %s", len(rows), self._what, type(error).__name__)
        except asyncio.CancelledError:  # only the event loop closing cancels these
            log.error("writing %d %s was cancelled", len(rows), self._what)
            raise
