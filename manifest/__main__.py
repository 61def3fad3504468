"""``python -m manifest build``: write the Teams app package (zip) for this installation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from manifest.package import (
    APP_ID_ENV,
    DEFAULT_OUT,
    HOST_ENV,
    VERSION_ENV,
    PackageSettingsError,
    resolve_settings,
    write_package,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ARGUMENTS = 2  # the same code argparse uses for a bad command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m manifest",
        description="Teams アプリパッケージ（zip）を作成します (build the Teams app package).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="build")
    build = commands.add_parser(
        "build",
        help="アプリパッケージを作成します (write the app package zip)",
        description=(
            "マニフェストのテンプレートにアプリ ID・ホスト名・バージョンを入れ、アイコンと一緒に zip にします。"
            " 引数がないときは環境変数から読みます (values not given are read from the environment)."
        ),
    )
    build.add_argument(
        "--app-id", help=f"Azure Bot の Microsoft App ID（GUID）。既定: ${'/$'.join(APP_ID_ENV)}"
    )
    build.add_argument("--host", help=f"公開ホスト名（例: bot.example.jp）。既定: ${'/$'.join(HOST_ENV)}")
    build.add_argument(
        "--version",
        help=f"パッケージのバージョン（1.2.3 の形）。既定: ${'/$'.join(VERSION_ENV)}、なければ pyproject.toml",
    )
    build.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"出力する zip のパス（既定: {DEFAULT_OUT}）"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    arguments = _parser().parse_args(argv)
    try:
        settings = resolve_settings(app_id=arguments.app_id, host=arguments.host, version=arguments.version)
    except PackageSettingsError as error:
        print("エラー: アプリパッケージを作成できません (cannot build the app package)", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem.message()}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    try:
        out = write_package(settings, arguments.out)
    except OSError as error:
        print(
            f"エラー: {arguments.out} に書き込めません (cannot write the package): {error}", file=sys.stderr
        )
        return EXIT_FAILED
    print(
        f"Teams アプリパッケージを作成しました (wrote the app package): {out}\n"
        f"  app id {settings.app_id}, host {settings.host}, version {settings.version}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
