"""WriteBehind: batches by size and by time, settles on demand, logs a failed batch without content."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.storage.sql.write_behind import WriteBehind


class Sink:
    """A ``write`` that keeps the batches (and can be told to fail)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.fail = False
        self.delay_s = delay_s

    async def __call__(self, rows: list[str]) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("disk full: secret-row")
        self.batches.append(rows)


@pytest.mark.parametrize(
    ("rows", "max_rows", "batches_at_once"),
    [(1, 4, 0), (3, 4, 0), (4, 4, 1), (9, 4, 2)],
)
async def test_a_full_batch_is_written_at_once_and_the_rest_after_the_delay(
    rows: int, max_rows: int, batches_at_once: int
) -> None:
    sink = Sink()
    behind: WriteBehind[str] = WriteBehind(sink, what="rows", delay_s=0.05, max_rows=max_rows)
    for number in range(rows):
        behind.add(f"r{number}")
    await asyncio.sleep(0)  # let the full batches' writes run
    await asyncio.sleep(0)
    assert len(sink.batches) == batches_at_once
    assert behind.waiting == rows - batches_at_once * max_rows
    await asyncio.sleep(0.1)
    assert [row for batch in sink.batches for row in batch] == [f"r{n}" for n in range(rows)]
    assert all(len(batch) <= max_rows for batch in sink.batches)
    assert behind.waiting == 0


async def test_settle_writes_now_and_waits_for_writes_under_way() -> None:
    sink = Sink(delay_s=0.02)
    behind: WriteBehind[str] = WriteBehind(sink, what="rows", delay_s=10, max_rows=2)
    behind.add("a")
    behind.add("b")  # a full batch: its write is under way
    behind.add("c")  # waits for the 10 s delay
    await behind.settle()
    assert sink.batches == [["a", "b"], ["c"]]
    await behind.settle()  # nothing waiting: returns at once
    assert sink.batches == [["a", "b"], ["c"]]


async def test_a_failed_batch_is_logged_without_its_rows_and_later_rows_are_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()
    behind: WriteBehind[str] = WriteBehind(sink, what="sent-nudge records", delay_s=0.01)
    sink.fail = True
    behind.add("secret-row")
    with caplog.at_level(logging.ERROR):
        await behind.settle()
    assert "writing 1 sent-nudge records failed: RuntimeError" in caplog.text
    assert "secret-row" not in caplog.text
    sink.fail = False
    behind.add("next")
    await behind.settle()
    assert sink.batches == [["next"]]


async def test_a_reader_cancelled_while_it_waits_does_not_cancel_the_write() -> None:
    sink = Sink(delay_s=0.05)
    behind: WriteBehind[str] = WriteBehind(sink, what="rows", delay_s=10)
    behind.add("kept")
    reader = asyncio.ensure_future(behind.settle())
    await asyncio.sleep(0.01)  # the write is under way
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await asyncio.sleep(0.1)
    assert sink.batches == [["kept"]]


async def test_settle_also_writes_rows_added_while_it_waits() -> None:
    sink = Sink(delay_s=0.02)
    behind: WriteBehind[str] = WriteBehind(sink, what="rows", delay_s=10)
    behind.add("first")
    settling = asyncio.ensure_future(behind.settle())
    await asyncio.sleep(0.005)
    behind.add("meanwhile")  # gets only a 10 s timer of its own
    await settling
    assert behind.waiting == 0
    assert sink.batches == [["first"], ["meanwhile"]]


def test_a_timer_of_a_closed_event_loop_does_not_keep_rows_waiting() -> None:
    sink = Sink()
    behind: WriteBehind[str] = WriteBehind(sink, what="rows", delay_s=0.01)

    async def add(row: str) -> None:
        behind.add(row)

    asyncio.run(add("left behind"))  # that loop closes before its timer fires

    async def add_and_wait() -> None:
        behind.add("next")
        await asyncio.sleep(0.1)

    asyncio.run(add_and_wait())
    assert [row for batch in sink.batches for row in batch] == ["left behind", "next"]
