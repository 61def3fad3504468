"""Fill the Teams manifest template with this installation's values and write the app package.

The template (``manifest.template.json``) holds ``{{appId}}``, ``{{host}}`` and ``{{version}}``
placeholders inside JSON strings. They are filled after parsing, never by text substitution,
so a value can never change the JSON's structure; every value is checked first and all
problems are reported together.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent
TEMPLATE = HERE / "manifest.template.json"
# Files copied into the package unchanged, beside manifest.json at the zip's root.
STATIC_FILES = ("color.png", "outline.png", "en-us.json")
DEFAULT_OUT = Path("dist/maebashi-bot.zip")

# Environment variables read when a value is not given on the command line, first found wins.
APP_ID_ENV = ("MicrosoftAppId", "MICROSOFT_APP_ID")
HOST_ENV = ("BOT_HOST", "PUBLIC_HOST")
VERSION_ENV = ("APP_VERSION",)

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NIL_GUID = "00000000-0000-0000-0000-000000000000"
# Teams accepts only MAJOR.MINOR.PATCH, without pre-release or build parts.
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

# Every message the command can give, in Japanese for the city's operators and in English.
MESSAGES: dict[str, str] = {
    "app_id.missing": (
        "アプリ ID がありません。--app-id か環境変数 MicrosoftAppId で指定してください"
        " (app id missing: pass --app-id or set MicrosoftAppId)"
    ),
    "app_id.not_guid": (
        "アプリ ID は Azure Bot の Microsoft App ID（GUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx）で"
        "指定してください (app id must be a GUID): {value!r}"
    ),
    "app_id.nil": (
        "アプリ ID がすべて 0 です。Azure Bot の Microsoft App ID を指定してください"
        " (app id is the nil GUID; use the Azure Bot's Microsoft App ID)"
    ),
    "host.missing": (
        "ホスト名がありません。--host か環境変数 BOT_HOST（または PUBLIC_HOST）で指定してください"
        " (host missing: pass --host or set BOT_HOST or PUBLIC_HOST)"
    ),
    "host.not_bare": (
        "ホスト名だけを指定してください（https:// やパス、ポート番号は不要です）。例: {suggestion}"
        " (host must be a bare host name without scheme, path or port): {value!r}"
    ),
    "host.invalid": (
        "ホスト名として正しくありません。Teams から HTTPS で届く公開ホスト名（例: bot.example.jp）を"
        "指定してください (host must be a public DNS name such as bot.example.jp): {value!r}"
    ),
    "version.missing": (
        "バージョンがありません。--version か環境変数 APP_VERSION で指定してください"
        " (version missing: pass --version or set APP_VERSION)"
    ),
    "version.not_semver": (
        "バージョンは 1.2.3 の形（数字 3 つ、先頭に 0 を付けない）で指定してください"
        " (version must be MAJOR.MINOR.PATCH, e.g. 1.2.3): {value!r}"
    ),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad or missing value, with its message code and the value given."""

    code: str
    value: str = ""
    suggestion: str = ""

    def message(self) -> str:
        """The problem in Japanese and English, ready to print."""
        return MESSAGES[self.code].format(value=self.value, suggestion=self.suggestion)


class PackageSettingsError(ValueError):
    """Raised with every problem found in the values, so they can all be fixed at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problem.message() for problem in self.problems))


@dataclass(frozen=True, slots=True)
class PackageSettings:
    """The values that make the package specific to one installation."""

    app_id: str
    """The Azure Bot's Microsoft App ID (a GUID), also the Teams app id and the Entra app id."""
    host: str
    """The public host name the bot and the dashboard are served from, e.g. bot.example.jp."""
    version: str
    """The package's version (MAJOR.MINOR.PATCH); Teams needs a higher one for each update."""


def _first_set(environ: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The value of the first of these environment variables that is set and not blank."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _project_version() -> str | None:
    """The version in pyproject.toml, used when no version is given."""
    try:
        with (PROJECT_ROOT / "pyproject.toml").open("rb") as file:
            version = tomllib.load(file).get("project", {}).get("version")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return version if isinstance(version, str) else None


def _check_app_id(value: str | None) -> tuple[str, list[Problem]]:
    if value is None:
        return "", [Problem("app_id.missing")]
    normalised = value.strip().strip("{}").lower()
    if not _GUID.match(normalised):
        return "", [Problem("app_id.not_guid", value)]
    if normalised == _NIL_GUID:
        return "", [Problem("app_id.nil", value)]
    return normalised, []


def _check_host(value: str | None) -> tuple[str, list[Problem]]:
    if value is None:
        return "", [Problem("host.missing")]
    host = value.strip().lower()
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/")[0].split(":")[0]
    if bare != host:
        return "", [Problem("host.not_bare", value, bare or "bot.example.jp")]
    labels = host.rstrip(".").split(".")
    valid = (
        len(host) <= 253
        and len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and labels[-1][0].isalpha()
    )
    if not valid:
        return "", [Problem("host.invalid", value)]
    return host.rstrip("."), []


def _check_version(value: str | None) -> tuple[str, list[Problem]]:
    if value is None:
        return "", [Problem("version.missing")]
    version = value.strip()
    if not _SEMVER.match(version):
        return "", [Problem("version.not_semver", value)]
    return version, []


def resolve_settings(
    *,
    app_id: str | None = None,
    host: str | None = None,
    version: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PackageSettings:
    """The settings from the given values, else the environment; raises with every problem found."""
    env = os.environ if environ is None else environ
    checked_app_id, problems = _check_app_id(app_id or _first_set(env, APP_ID_ENV))
    checked_host, host_problems = _check_host(host or _first_set(env, HOST_ENV))
    checked_version, version_problems = _check_version(
        version or _first_set(env, VERSION_ENV) or _project_version()
    )
    problems += host_problems + version_problems
    if problems:
        raise PackageSettingsError(problems)
    return PackageSettings(app_id=checked_app_id, host=checked_host, version=checked_version)


def _fill(node: Any, values: Mapping[str, str]) -> Any:
    """The template node with every ``{{name}}`` in its strings replaced by its value."""
    if isinstance(node, dict):
        return {key: _fill(item, values) for key, item in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], node)
    return node


def load_template() -> dict[str, Any]:
    """The manifest template as parsed JSON, placeholders still in place."""
    template: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    return template


def fill_manifest(settings: PackageSettings, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest for this installation: the template with the settings' values filled in."""
    values = {"appId": settings.app_id, "host": settings.host, "version": settings.version}
    filled: dict[str, Any] = _fill(load_template() if template is None else template, values)
    return filled


def package_files(settings: PackageSettings) -> dict[str, bytes]:
    """The package's files by name: the filled manifest.json, the icons and the localisation."""
    manifest = json.dumps(fill_manifest(settings), ensure_ascii=False, indent=2) + "\n"
    files = {"manifest.json": manifest.encode("utf-8")}
    files.update({name: (HERE / name).read_bytes() for name in STATIC_FILES})
    return files


def write_package(settings: PackageSettings, out: Path) -> Path:
    """Write the app package zip to ``out`` (replacing it whole) and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".package-", suffix=".zip", dir=out.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in package_files(settings).items():
                # A fixed date keeps the zip byte-for-byte the same for the same inputs.
                entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, data)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out
