"""Statistics tests use the storage tests' databases: a migrated SQLite file and PostgreSQL.

``db`` and ``replica`` run a test on both; ``lite_db`` on SQLite only, for table tests whose
outcome does not depend on the database (PostgreSQL is then covered by the ``db`` tests).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Database
from tests.storage.conftest import (  # noqa: F401 - fixtures re-exported for this directory
    database_url,
    db,
    postgres_databases,
    postgres_url,
    replica,
    sqlite_template,
)


@pytest.fixture
async def lite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:  # noqa: F811
    """A migrated, empty SQLite database."""
    path = tmp_path / "bot.db"
    shutil.copyfile(sqlite_template, path)
    database = Database.connect(f"sqlite:///{path}")
    yield database
    await database.close()
