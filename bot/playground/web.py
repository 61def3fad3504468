"""The playground's routes: the page, its API, the event stream and the connector stand-in.

The page never builds activities itself: it tells ``/playground/api/*`` what a persona did
(posted, edited, added the app, clicked a card button), and this module builds the activity
Teams would send (``bot.playground.activities``), posts it to the bot's real messaging
endpoint over loopback, and records it. The bot's answers come back through the connector
stand-in (``bot.playground.connector``), whose address is the activities' ``serviceUrl``.
Every route answers loopback callers only, like local mode's ``/api/messages``, and only
requests addressed to this machine by name (``Host``: ``localhost`` or a loopback address, so a
web page elsewhere cannot reach it through DNS rebinding); a POST or PUT must be JSON, which a
cross-origin form cannot send without the browser asking first. Messages shown on the page
are Japanese.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import hdrs, web

from bot.netutil import is_loopback, is_loopback_authority
from bot.playground.activities import (
    PLACE_KINDS,
    FileAttachment,
    Place,
    card_action_activity,
    edit_activity,
    install_activities,
    message_activity,
    message_html,
)
from bot.playground.connector import ConnectorStandIn
from bot.playground.personas import (
    BOT_ID,
    BOT_NAME,
    CHANNEL_ID,
    CHANNEL_NAME,
    GROUP_CHAT_ID,
    GROUP_CHAT_NAME,
    SAMPLE_DIRECTORY,
    SAMPLE_PERSONAS,
    TEAM_NAME,
    TENANT_ID,
    Persona,
    persona_by_key,
)
from bot.playground.store import Entry, PlaygroundStore

log = logging.getLogger(__name__)

PREFIX = "/playground"
CONNECTOR_PREFIX = f"{PREFIX}/connector"
STATIC_DIR = Path(__file__).parent / "static"
SAMPLE_AUDIO_FILE = "samples/meeting-recording.wav"
SAMPLE_AUDIO_NAME = "定例会議の録音.wav"
MAX_TEXT_CHARS = 4000
MAX_RULE_FILE_BYTES = 512 * 1024
KEEP_ALIVE_SECONDS = 15.0
BOT_CALL_TIMEOUT_SECONDS = 30.0
LOOPBACK_ONLY = "プレイグラウンドは、このパソコン上のブラウザーからだけ利用できます"
LOCAL_HOST_ONLY = "プレイグラウンドは http://localhost か http://127.0.0.1 のアドレスで開いてください"
JSON_ONLY = "リクエストは Content-Type: application/json で送ってください"

# Cards may show images from anywhere and style themselves inline (the renderer does); scripts
# come only from the app itself, so text the bot or a rule author wrote can never run as code.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; media-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

RulesStatus = Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class PlaygroundConfig:
    """What the playground was set up with."""

    rules_dir: Path
    rules_status: RulesStatus
    bot_endpoint_path: str
    personas: tuple[Persona, ...]


class BadInput(Exception):
    """A request the page should not have sent: a 400 with the message (Japanese: the page shows it)."""


class Playground:
    """The playground's state and handlers, one per application."""

    def __init__(self, config: PlaygroundConfig) -> None:
        self.config = config
        self.store = PlaygroundStore()
        # The files the page may load, listed once: a request's path is only ever a key here.
        self._static_files = _static_files(STATIC_DIR)
        self.connector = ConnectorStandIn(self.store, config.personas)
        self._session: aiohttp.ClientSession | None = None

    # -- lifetime ---------------------------------------------------------------------------

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """One client session for posting to the bot, for the app's lifetime."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOT_CALL_TIMEOUT_SECONDS))
        yield
        await self._session.close()  # the streams were ended by on_shutdown

    async def on_shutdown(self, app: web.Application) -> None:
        """End the open event streams so that shutting down does not wait for them."""
        self.store.close_all()

    # -- page and static files ----------------------------------------------------------------

    async def page(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground``: the page."""
        return web.FileResponse(
            STATIC_DIR / "index.html",
            headers={"Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP},
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground/static/{path}``: the page's scripts, styles, vendored renderer, samples."""
        target = self._static_files.get(request.match_info["path"])
        if target is None:
            raise web.HTTPNotFound()
        return web.FileResponse(target)

    async def config_route(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground/api/config``: personas, places and the bot, for the page."""
        return _json(
            {
                "bot": {"id": BOT_ID, "name": BOT_NAME},
                "tenant_id": TENANT_ID,
                "team": {"name": TEAM_NAME},
                "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
                "group_chat": {"id": GROUP_CHAT_ID, "name": GROUP_CHAT_NAME},
                "personas": [p.as_json() for p in self.config.personas],
                "directory": [
                    {"name": d.name, "aad_object_id": d.aad_object_id, "department": d.department}
                    for d in SAMPLE_DIRECTORY
                ],
                "sample_audio": {"url": f"{PREFIX}/static/{SAMPLE_AUDIO_FILE}", "name": SAMPLE_AUDIO_NAME},
                "service_url": self._service_url(request),
                "bot_endpoint": self.config.bot_endpoint_path,
                "rules_dir": str(self.config.rules_dir),
            }
        )

    # -- conversations --------------------------------------------------------------------------

    async def entries(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground/api/entries?viewer=key``: what the persona's page shows, as JSON."""
        viewer = self._persona(request.query.get("viewer", ""))
        return _json({"entries": self.store.snapshot(viewer), "calls": self.store.calls()})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground/api/stream?viewer=key``: Server-Sent Events (a snapshot, then changes)."""
        viewer = self._persona(request.query.get("viewer", ""))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        subscriber = self.store.subscribe(viewer)
        try:
            snapshot = {"entries": self.store.snapshot(viewer), "calls": self.store.calls()}
            await response.write(_sse("snapshot", snapshot))
            while not subscriber.closed:
                try:
                    item = await asyncio.wait_for(subscriber.queue.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:
                    break
                await response.write(_sse(str(item["event"]), item))
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass  # the page went away
        finally:
            self.store.unsubscribe(subscriber)
        return response

    async def send(self, request: web.Request) -> web.StreamResponse:
        """``POST /playground/api/send``: a persona posts a message (optionally with the sample audio)."""
        body = await _body(request)
        persona = self._persona(body.get("viewer"))
        kind = body.get("place")
        if kind not in PLACE_KINDS:
            raise BadInput(f"投稿先（place）は {'、'.join(PLACE_KINDS)} のいずれかです")
        text = _text(body.get("text"))
        mention_bot = body.get("mention_bot") is True
        files = (self._sample_audio(request),) if body.get("attach_sample_audio") is True else ()
        if not text.strip() and not files:
            raise BadInput("メッセージを入力するか、ファイルを添付してください")
        activity_id = self.store.new_activity_id()
        place = Place(kind)
        root: str | None = None
        if kind == "thread":
            root = self._thread_root(body.get("thread_root_id"), persona)
            place = Place("thread", root)
        elif kind == "channel":
            root = activity_id
        activity = message_activity(
            persona,
            place,
            text,
            activity_id=activity_id,
            timestamp=self.store.now(),
            service_url=self._service_url(request),
            mention_bot=mention_bot,
            files=files,
        )
        self.store.add(
            Entry(
                id=activity_id,
                conversation_id=_conversation_of(place, persona),
                thread_root_id=root,
                author="person",
                sender_key=persona.key,
                activity=_person_view(text, mention_bot, files),
                timestamp=activity["timestamp"],
            )
        )
        status, answer = await self._post_to_bot(request, activity)
        return _json(
            {"activity_id": activity_id, "thread_root_id": root, "bot_status": status, "bot_body": answer}
        )

    async def edit(self, request: web.Request) -> web.StreamResponse:
        """``POST /playground/api/edit``: a persona edits their own message (``messageUpdate``)."""
        body = await _body(request)
        persona = self._persona(body.get("viewer"))
        entry = self.store.get(str(body.get("entry_id", "")))
        if entry is None or entry.author != "person" or entry.sender_key != persona.key:
            raise BadInput("編集できるのは自分のメッセージだけです")
        text = _text(body.get("text"))
        if not text.strip():
            raise BadInput("メッセージを入力してください")
        mention_bot = bool(entry.activity.get("mention_bot"))
        files = tuple(FileAttachment(**f) for f in entry.activity.get("files", []))
        activity = edit_activity(
            persona,
            _place_of(entry),
            text,
            activity_id=entry.id,
            timestamp=self.store.now(),
            service_url=self._service_url(request),
            mention_bot=mention_bot,
            files=files,
        )
        self.store.edit(entry, _person_view(text, mention_bot, files))
        status, answer = await self._post_to_bot(request, activity)
        return _json({"activity_id": entry.id, "bot_status": status, "bot_body": answer})

    async def install(self, request: web.Request) -> web.StreamResponse:
        """``POST /playground/api/install``: a persona adds the app to the place."""
        body = await _body(request)
        persona = self._persona(body.get("viewer"))
        kind = body.get("place")
        if kind not in PLACE_KINDS:
            raise BadInput(f"追加先（place）は {'、'.join(PLACE_KINDS)} のいずれかです")
        place = Place("channel") if kind == "thread" else Place(kind)
        ids = (self.store.new_activity_id(), self.store.new_activity_id())
        activities = install_activities(
            persona,
            place,
            activity_ids=ids,
            timestamp=self.store.now(),
            service_url=self._service_url(request),
        )
        where = {
            "channel": f"チーム「{TEAM_NAME}」",
            "groupChat": "このグループチャット",
            "personal": "個人用",
        }[place.kind]
        self.store.add(
            Entry(
                id=ids[0],
                conversation_id=_conversation_of(place, persona),
                thread_root_id=None,
                author="system",
                activity={"text": f"{persona.name}さんが{BOT_NAME}を{where}に追加しました"},
            )
        )
        statuses = []
        for activity in activities:
            status, _ = await self._post_to_bot(request, activity)
            statuses.append(status)
        return _json({"bot_statuses": statuses})

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        """``POST /playground/api/invoke``: an Action.Execute was clicked (or a card asked to refresh)."""
        body = await _body(request)
        persona = self._persona(body.get("viewer"))
        entry = self.store.get(str(body.get("entry_id", "")))
        if entry is None or entry.author != "bot" or entry.deleted or not entry.visible_to(persona):
            raise BadInput("このカードは見つかりません（会話がリセットされた可能性があります）")
        verb = body.get("verb")
        data = body.get("data", {})
        if not isinstance(verb, str) or not verb or not isinstance(data, dict):
            raise BadInput("verb（文字列）と data（オブジェクト）が必要です")
        action_id = body.get("action_id")
        trigger = body.get("trigger", "manual")
        if trigger not in ("manual", "automatic"):
            raise BadInput("trigger は manual か automatic です")
        activity = card_action_activity(
            persona,
            _place_of(entry),
            activity_id=self.store.new_activity_id(),
            card_activity_id=entry.id,
            verb=verb,
            data=data,
            timestamp=self.store.now(),
            service_url=self._service_url(request),
            action_id=action_id if isinstance(action_id, str) else None,
            trigger=trigger,
        )
        status, answer = await self._post_to_bot(request, activity)
        if (
            status == 200
            and isinstance(answer, dict)
            and answer.get("type") == "application/vnd.microsoft.card.adaptive"
            and isinstance(answer.get("value"), dict)
        ):
            # Universal Actions: the card in the answer replaces the clicked card, for the clicker.
            self.store.replace_for(entry, persona, answer["value"])
        return _json({"bot_status": status, "bot_body": answer})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        """``POST /playground/api/reset``: forget the playground's conversations (not the bot's data)."""
        self.store.clear()
        return _json({"ok": True})

    # -- rules ----------------------------------------------------------------------------------

    async def rules(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground/api/rules``: the rules directory, its files and the engine's status."""
        directory = self.config.rules_dir
        listing = await asyncio.to_thread(_list_rule_files, directory)
        return _json({**listing, "status": await self._rules_status()})

    async def rule_file(self, request: web.Request) -> web.StreamResponse:
        """``GET /playground/api/rules/file?name=x.yaml``: one rule file's text (read-only)."""
        text = await asyncio.to_thread(_read_rule_file, self.config.rules_dir, request.query.get("name", ""))
        if text is None:
            raise web.HTTPNotFound(text="そのルールファイルはありません")
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def _rules_status(self) -> dict[str, Any]:
        try:
            status = self.config.rules_status()
            if inspect.isawaitable(status):
                status = await status
        except Exception:
            log.exception("rules_status failed")
            return {
                "ok": False,
                "version": "",
                "errors": [{"message_ja": "ルールの状態を取得できませんでした"}],
            }
        return status if isinstance(status, dict) else {"ok": False, "version": "", "errors": []}

    # -- helpers ----------------------------------------------------------------------------

    def _persona(self, key: Any) -> Persona:
        persona = persona_by_key(self.config.personas, key) if isinstance(key, str) else None
        if persona is None:
            raise BadInput("表示するペルソナ（viewer）が見本のペルソナにありません")
        return persona

    def _thread_root(self, requested: Any, persona: Persona) -> str:
        if isinstance(requested, str) and requested:
            entry = self.store.get(requested)
            if entry is None or entry.conversation_id != CHANNEL_ID:
                raise BadInput("返信先のスレッドが見つかりません")
            return entry.thread_root_id or entry.id
        latest = self.store.latest_root(CHANNEL_ID)
        if latest is not None:
            return latest.id
        # An empty channel has no thread to reply to: start one with a sample post that the bot
        # never sees (it exists only so that the reply has a root).
        other = next((p for p in self.config.personas if p.key != persona.key), persona)
        root = self.store.add(
            Entry(
                id=self.store.new_activity_id(),
                conversation_id=CHANNEL_ID,
                thread_root_id=None,
                author="person",
                sender_key=other.key,
                activity={
                    "html": message_html(
                        "来週の定例会議の議題をこのスレッドに書いてください。", mention_bot=False
                    ),
                    "sample": True,
                },
            )
        )
        root.thread_root_id = root.id
        return root.id

    def _service_url(self, request: web.Request) -> str:
        return f"{_self_origin(request)}{CONNECTOR_PREFIX}/"

    def _sample_audio(self, request: web.Request) -> FileAttachment:
        return FileAttachment(
            name=SAMPLE_AUDIO_NAME,
            unique_id=str(uuid.uuid4()).upper(),
            content_url=f"{_self_origin(request)}{PREFIX}/static/{SAMPLE_AUDIO_FILE}",
        )

    async def _post_to_bot(self, request: web.Request, activity: dict[str, Any]) -> tuple[int, Any]:
        assert self._session is not None, "the playground's lifetime context has not started"
        url = f"{_self_origin(request)}{self.config.bot_endpoint_path}"
        try:
            async with self._session.post(url, json=activity) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("the playground could not reach the bot: %s", type(error).__name__)
            raise web.HTTPBadGateway(
                text=json.dumps({"error": "bot_unreachable", "message": "ボットに接続できませんでした"}),
                content_type="application/json",
            ) from error
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text


def _list_rule_files(directory: Path) -> dict[str, Any]:
    files = []
    with contextlib.suppress(OSError):
        for path in sorted(directory.iterdir()):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                stat = path.stat()
                modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")
                files.append(
                    {
                        "name": path.name,
                        "size": stat.st_size,
                        "modified": modified,
                        "mtime_ns": stat.st_mtime_ns,
                    }
                )
    return {"path": str(directory.resolve()), "exists": directory.is_dir(), "files": files}


def _read_rule_file(directory: Path, name: str) -> str | None:
    """The text of a YAML file directly in ``directory``; None for anything else."""
    path = directory / name
    if not name or Path(name).name != name or path.suffix not in (".yaml", ".yml") or not path.is_file():
        return None
    if path.stat().st_size > MAX_RULE_FILE_BYTES:
        return f"# このファイルは大きすぎるため表示できません（{MAX_RULE_FILE_BYTES} バイトまで）\n"
    return path.read_text(encoding="utf-8", errors="replace")


def _self_origin(request: web.Request) -> str:
    """``http://<local address>:<port>`` of the socket the request came in on (loopback)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = str(sockname[0]), int(sockname[1])
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return f"http://{request.host}"


def _conversation_of(place: Place, persona: Persona) -> str:
    if place.kind in ("channel", "thread"):
        return CHANNEL_ID
    if place.kind == "groupChat":
        return GROUP_CHAT_ID
    return persona.personal_conversation_id()


def _place_of(entry: Entry) -> Place:
    """Where an entry lives, as the place an edit or a card click comes from."""
    if entry.conversation_id == CHANNEL_ID:
        root = entry.thread_root_id or entry.id
        return Place("channel") if root == entry.id and entry.author == "person" else Place("thread", root)
    if entry.conversation_id == GROUP_CHAT_ID:
        return Place("groupChat")
    return Place("personal")


def _person_view(text: str, mention_bot: bool, files: tuple[FileAttachment, ...]) -> dict[str, Any]:
    return {
        "html": message_html(text, mention_bot=mention_bot),
        "text": text,
        "mention_bot": mention_bot,
        "files": [{"name": f.name, "unique_id": f.unique_id, "content_url": f.content_url} for f in files],
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput("メッセージ（text）は文字列で送ってください")
    if len(value) > MAX_TEXT_CHARS:
        raise BadInput(f"メッセージは{MAX_TEXT_CHARS}文字以内にしてください")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        value = await request.json()
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested too deeply
        raise BadInput("リクエストの本文が JSON ではありません") from error
    if not isinstance(value, dict):
        raise BadInput("リクエストの本文は JSON オブジェクトにしてください")
    return value


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(value, ensure_ascii=False), status=status, content_type="application/json"
    )


def _sse(event: str, data: Any) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _static_files(root: Path) -> dict[str, Path]:
    """``relative/posix/path -> file`` for every file under ``root`` (hidden ones left out)."""
    files: dict[str, Path] = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = path
    return files


def _refusal(request: web.Request) -> web.Response | None:
    """Why the playground does not answer this request (403 / 415), or None when it does."""
    if not is_loopback(request.remote):
        return _json({"error": "forbidden", "message": LOOPBACK_ONLY}, 403)
    host = request.headers.get(hdrs.HOST)
    if host is not None and not is_loopback_authority(host):
        # A browser always sends Host; a name other than localhost could be rebound to us.
        return _json({"error": "forbidden", "message": LOCAL_HOST_ONLY}, 403)
    if request.method in ("POST", "PUT") and request.content_type != "application/json":
        return _json({"error": "unsupported_media_type", "message": JSON_ONLY}, 415)
    return None


def _guarded(handler: Handler) -> Handler:
    """Loopback callers, local Host and JSON bodies only; bad input is a 400 with a reason."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        refusal = _refusal(request)
        if refusal is not None:
            return refusal
        try:
            return await handler(request)
        except BadInput as problem:
            return _json({"error": "bad_request", "message": str(problem)}, 400)

    return guarded


async def _redirect_to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX)


PLAYGROUND_KEY = web.AppKey("playground", Playground)


def setup_playground(
    app: web.Application,
    *,
    rules_dir: Path,
    rules_status: RulesStatus,
    bot_endpoint_path: str = "/api/messages",
    personas: tuple[Persona, ...] = SAMPLE_PERSONAS,
) -> Playground:
    """Add the playground (page, API, event stream, Bot Connector stand-in) to a local-mode app."""
    playground = Playground(PlaygroundConfig(Path(rules_dir), rules_status, bot_endpoint_path, personas))
    app[PLAYGROUND_KEY] = playground
    app.cleanup_ctx.append(playground.lifetime)
    app.on_shutdown.append(playground.on_shutdown)
    router = app.router
    router.add_get(PREFIX, _guarded(playground.page), name="playground")
    router.add_get(PREFIX + "/", _guarded(_redirect_to_page))
    router.add_get(PREFIX + "/static/{path:.+}", _guarded(playground.static))
    router.add_get(PREFIX + "/api/config", _guarded(playground.config_route))
    router.add_get(PREFIX + "/api/entries", _guarded(playground.entries))
    router.add_get(PREFIX + "/api/stream", _guarded(playground.stream))
    router.add_post(PREFIX + "/api/send", _guarded(playground.send))
    router.add_post(PREFIX + "/api/edit", _guarded(playground.edit))
    router.add_post(PREFIX + "/api/install", _guarded(playground.install))
    router.add_post(PREFIX + "/api/invoke", _guarded(playground.invoke))
    router.add_post(PREFIX + "/api/reset", _guarded(playground.reset))
    router.add_get(PREFIX + "/api/rules", _guarded(playground.rules))
    router.add_get(PREFIX + "/api/rules/file", _guarded(playground.rule_file))
    playground.connector.add_routes(app, CONNECTOR_PREFIX, wrap=_guarded)
    return playground
