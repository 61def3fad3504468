"""``python -m manifest build``: the package it writes, checked against the official schema."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot.services.commands import COMMANDS
from manifest.__main__ import main
from tests.manifest.schema import LOCALIZATION_SCHEMA, SCHEMAS, problems, schema_path, validator

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
HOST = "bot.city.maebashi.example.jp"
PACKAGE_NAMES = {"manifest.json", "color.png", "outline.png", "en-us.json"}
ENV_NAMES = ("MicrosoftAppId", "MICROSOFT_APP_ID", "BOT_HOST", "PUBLIC_HOST", "APP_VERSION")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test with none of the variables the command reads."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def build(tmp_path: Path, *arguments: str) -> Path:
    """Run the command into tmp_path and return the zip's path; the command must succeed."""
    out = tmp_path / "dist" / "maebashi-bot.zip"
    assert main(["build", *arguments, "--out", str(out)]) == 0
    return out


def read_package(path: Path) -> dict[str, bytes]:
    """The files in a package zip by name."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def package(tmp_path: Path) -> dict[str, bytes]:
    """The files of a package built with explicit arguments."""
    return read_package(build(tmp_path, "--app-id", APP_ID, "--host", HOST, "--version", "2.3.4"))


@pytest.fixture
def manifest(package: dict[str, bytes]) -> dict[str, Any]:
    """The built manifest.json, parsed."""
    parsed: dict[str, Any] = json.loads(package["manifest.json"].decode("utf-8"))
    return parsed


# --- the package and the official schema -------------------------------------------------------


def test_package_holds_the_manifest_icons_and_localisation_at_its_root(package: dict[str, bytes]) -> None:
    """Teams reads manifest.json and the files it names from the zip's root, not a folder."""
    assert set(package) == PACKAGE_NAMES


def test_manifest_is_valid_against_the_official_schema_of_its_version(manifest: dict[str, Any]) -> None:
    """The filled manifest passes the vendored schema named by its own manifestVersion."""
    version = manifest["manifestVersion"]
    assert manifest["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"
    )
    assert schema_path(version, "MicrosoftTeams.schema.json").is_file(), f"vendor the v{version} schema"
    assert problems(validator(version), manifest) == []


def test_manifest_uses_the_version_documented_as_current(manifest: dict[str, Any]) -> None:
    """1.27 is the newest generally available version (see tests/schemas/teams-manifest/README.md)."""
    assert manifest["manifestVersion"] == "1.27"


def test_localisation_file_is_valid_and_names_only_existing_fields(
    package: dict[str, bytes], manifest: dict[str, Any]
) -> None:
    """en-us.json passes the localisation schema, and each key it translates exists in the manifest."""
    localisation = json.loads(package["en-us.json"].decode("utf-8"))
    version = manifest["manifestVersion"]
    assert localisation["$schema"].endswith(f"/v{version}/{LOCALIZATION_SCHEMA}")
    assert problems(validator(version, LOCALIZATION_SCHEMA), localisation) == []
    languages = manifest["localizationInfo"]["additionalLanguages"]
    assert languages == [{"languageTag": "en-us", "file": "en-us.json"}]
    for key in localisation:
        if key.startswith("$"):
            continue
        node: Any = manifest
        for part in key.replace("]", "").replace("[", ".").split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        assert isinstance(node, str), key


MUTATIONS = [
    ("manifestVersion", lambda m: m.update(manifestVersion="1.26")),
    ("id", lambda m: m.update(id="not-a-guid")),
    ("webApplicationInfo.id", lambda m: m["webApplicationInfo"].update(id="api://x")),
    ("name.short", lambda m: m["name"].update(short="あ" * 31)),
    ("developer", lambda m: m.pop("developer")),
    ("bots[0].scopes", lambda m: m["bots"][0]["scopes"].append("everyone")),
    (
        "bots[0].commandLists",
        lambda m: m["bots"][0]["commandLists"][0]["commands"].extend([{"title": "x"}] * 4),
    ),
    (
        "resourceSpecific type",
        lambda m: m["authorization"]["permissions"]["resourceSpecific"][0].update(type="Always"),
    ),
    ("staticTabs[0].contentUrl", lambda m: m["staticTabs"][0].update(contentUrl="ftp://x/dashboard")),
    ("accentColor", lambda m: m.update(accentColor="green")),
    ("unknown property", lambda m: m.update(colour="#000000")),
]


@pytest.mark.parametrize(("case", "mutate"), MUTATIONS, ids=[case for case, _ in MUTATIONS])
def test_schema_check_rejects_a_broken_manifest(manifest: dict[str, Any], case: str, mutate: Any) -> None:
    """The validation used above really fails on mistakes (including `const`, a later-draft keyword)."""
    broken = copy.deepcopy(manifest)
    mutate(broken)
    assert problems(validator("1.27"), broken), case


def test_vendored_schemas_are_unchanged_copies() -> None:
    """The vendored files still match the checksums recorded when they were copied from npm."""
    lines = (SCHEMAS / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name


# --- what the manifest says ---------------------------------------------------------------------


def test_values_are_filled_in_everywhere(package: dict[str, bytes], manifest: dict[str, Any]) -> None:
    """App id, host and version land in every field that needs them; no placeholder is left."""
    assert b"{{" not in package["manifest.json"]
    assert manifest["id"] == APP_ID
    assert manifest["version"] == "2.3.4"
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://{HOST}/{APP_ID}"}
    assert manifest["validDomains"] == [HOST]
    dashboard = manifest["staticTabs"][0]
    assert dashboard["contentUrl"] == f"https://{HOST}/dashboard"
    assert dashboard["scopes"] == ["personal"]
    developer = manifest["developer"]
    assert developer["name"] == "前橋市 情報政策課"
    for field in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        assert developer[field].startswith(f"https://{HOST}/")


def test_bot_scopes_files_and_resource_specific_consent(manifest: dict[str, Any]) -> None:
    """The bot works in 1:1, teams and group chats, takes files, and reads messages by RSC."""
    bot = manifest["bots"][0]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is True
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"},
        {"name": "ChatMessage.Read.Chat", "type": "Application"},
    ]


def test_names_and_descriptions_are_japanese_by_default(manifest: dict[str, Any]) -> None:
    """The default language is Japanese, and so are the name, description and commands."""
    assert manifest["localizationInfo"]["defaultLanguageTag"] == "ja-jp"

    def japanese(text: str) -> bool:
        return any(unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA")) for ch in text)

    texts = [*manifest["name"].values(), *manifest["description"].values()]
    texts += [
        part
        for command_list in manifest["bots"][0]["commandLists"]
        for command in command_list["commands"]
        for part in (command["title"], command["description"])
    ]
    assert all(japanese(text) for text in texts)


def _words(title: str) -> str:
    return unicodedata.normalize("NFKC", title).lower()


def test_listed_commands_are_the_bots_commands(package: dict[str, bytes], manifest: dict[str, Any]) -> None:
    """Every command shown in Teams (Japanese and English) is one the bot recognises, and the 1:1
    list shows each of the bot's commands."""
    known = {_words(word): command for command, words in COMMANDS.items() for word in words}
    localisation = json.loads(package["en-us.json"].decode("utf-8"))
    english = [
        value for key, value in localisation.items() if key.endswith(".title") and key.startswith("bots")
    ]
    lists = manifest["bots"][0]["commandLists"]
    japanese = [command["title"] for command_list in lists for command in command_list["commands"]]
    unknown = [title for title in japanese + english if _words(title) not in known]
    assert unknown == []
    personal = next(command_list for command_list in lists if command_list["scopes"] == ["personal"])
    assert {known[_words(command["title"])] for command in personal["commands"]} == set(COMMANDS)


# --- where the values come from ----------------------------------------------------------------


def test_values_come_from_the_environment_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without arguments the command uses MicrosoftAppId, BOT_HOST and APP_VERSION."""
    monkeypatch.setenv("MicrosoftAppId", APP_ID.upper())
    monkeypatch.setenv("BOT_HOST", HOST)
    monkeypatch.setenv("APP_VERSION", "1.4.0")
    manifest = json.loads(read_package(build(tmp_path))["manifest.json"])
    assert (manifest["id"], manifest["validDomains"], manifest["version"]) == (APP_ID, [HOST], "1.4.0")


def test_arguments_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An argument given on the command line is used even when the variable is set."""
    monkeypatch.setenv("MicrosoftAppId", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("PUBLIC_HOST", "other.example.jp")
    manifest = json.loads(read_package(build(tmp_path, "--app-id", APP_ID, "--host", HOST))["manifest.json"])
    assert (manifest["id"], manifest["validDomains"]) == (APP_ID, [HOST])


def test_version_defaults_to_the_projects_version(tmp_path: Path) -> None:
    """With no version given anywhere, pyproject.toml's version is used."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    manifest = json.loads(read_package(build(tmp_path, "--app-id", APP_ID, "--host", HOST))["manifest.json"])
    assert manifest["version"] == project["version"]


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    """The zip is reproducible, so a rebuilt package can be compared with the one uploaded."""
    first = build(tmp_path / "a", "--app-id", APP_ID, "--host", HOST, "--version", "1.0.0").read_bytes()
    second = build(tmp_path / "b", "--app-id", APP_ID, "--host", HOST, "--version", "1.0.0").read_bytes()
    assert first == second


BAD_ARGUMENTS = [
    # (arguments, environment, fragments the error must contain)
    ([], {}, ["--app-id", "MicrosoftAppId", "--host", "BOT_HOST"]),
    (["--app-id", "12345", "--host", HOST], {}, ["GUID", "'12345'"]),
    (["--app-id", "00000000-0000-0000-0000-000000000000", "--host", HOST], {}, ["nil GUID"]),
    (["--app-id", APP_ID, "--host", "https://bot.example.jp/"], {}, ["ホスト名だけ", "例: bot.example.jp"]),
    (["--app-id", APP_ID, "--host", "bot.example.jp:8443"], {}, ["bare host name"]),
    (["--app-id", APP_ID, "--host", "localhost"], {}, ["public DNS name"]),
    (["--app-id", APP_ID, "--host", "bot_1.example.jp"], {}, ["public DNS name"]),
    (["--app-id", APP_ID, "--host", HOST, "--version", "1.2"], {}, ["MAJOR.MINOR.PATCH", "'1.2'"]),
    (["--app-id", APP_ID, "--host", HOST, "--version", "1.02.3"], {}, ["先頭に 0"]),
    ([], {"MicrosoftAppId": "x", "BOT_HOST": "a b"}, ["GUID", "'x'", "'a b'"]),
]


@pytest.mark.parametrize(("arguments", "environment", "fragments"), BAD_ARGUMENTS)
def test_bad_values_exit_2_with_every_problem_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    environment: dict[str, str],
    fragments: list[str],
) -> None:
    """Each bad or missing value is reported (all at once, in Japanese and English); nothing is written."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "package.zip"
    assert main(["build", *arguments, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "エラー" in error and "cannot build the app package" in error
    for fragment in fragments:
        assert fragment in error
    assert not out.exists()


def test_unwritable_output_is_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that cannot be written gives a message and exit code 1."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["build", "--app-id", APP_ID, "--host", HOST, "--out", str(blocker / "p.zip")])
    assert code == 1
    assert "cannot write the package" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "code", "stream", "expected"),
    [
        (["--app-id", APP_ID, "--host", HOST], 0, "stdout", "wrote the app package"),
        (["--app-id", "nope", "--host", HOST], 2, "stderr", "app id must be a GUID"),
        (["--no-such-option"], 2, "stderr", "unrecognized arguments"),
    ],
)
def test_the_module_runs_as_a_command(
    tmp_path: Path, arguments: list[str], code: int, stream: str, expected: str
) -> None:
    """``python -m manifest build`` from a shell: exit codes and messages, never a traceback."""
    environment = {k: v for k, v in os.environ.items() if k not in ENV_NAMES} | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "manifest", "build", *arguments, "--out", str(tmp_path / "p.zip")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == code
    assert expected in getattr(result, stream)
    assert "Traceback" not in result.stderr
    assert (tmp_path / "p.zip").exists() == (code == 0)
