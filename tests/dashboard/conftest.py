"""Dashboard tests run on SQLite: the page reads through ``StatsQueries``, whose PostgreSQL
behaviour ``tests/stats`` covers."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Database
from tests.storage.conftest import sqlite_template  # noqa: F401 - fixture re-exported


@pytest.fixture
async def db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:  # noqa: F811
    """A migrated, empty SQLite database."""
    path = tmp_path / "bot.db"
    shutil.copyfile(sqlite_template, path)
    database = Database.connect(f"sqlite:///{path}")
    yield database
    await database.close()
