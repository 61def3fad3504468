"""``python -m bot.storage upgrade|current|ping [--url URL]`` (URL defaults to $DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot.storage.database import DEFAULT_DATABASE_URL, Database
from bot.storage.errors import StorageError


async def _run(command: str, url: str) -> int:
    db = Database.connect(url)
    try:
        if command == "upgrade":
            await db.migrate()
            print(
                f"database at revision {await db.current_revision()} ({db.url.render_as_string(hide_password=True)})"
            )
        elif command == "current":
            print(await db.current_revision() or "(empty database)")
        elif command == "ping":
            ok = await db.ping()
            print("ok" if ok else "unreachable")
            return 0 if ok else 1
        return 0
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bot.storage", description="Database maintenance")
    parser.add_argument("command", choices=["upgrade", "current", "ping"])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args.command, args.url))
    except StorageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
