"""Benchmark: POST /api/messages of the real bot (authentication on) against a bare aiohttp handler.

    .venv/bin/python bench/bench_endpoint.py [--phase quiet|nudge|both] [--seconds 3] [--rounds 5]

Starts, in this one command: the OpenID/JWKS stand-in and the HTTPS Entra stand-in (in this
process), the bot as a subprocess (``app.py`` once ``bot.service.build_services`` exists, else the
same app around an event handler that does nothing, which the output says),
``bench/bare_handler.py`` as a subprocess and, for the nudge phase, the Bot Connector sink over
HTTPS (``bench/connector_sink.py``), the Graph stand-in (the department of each new sender) and
the nudge floor (``bench/bare_handler.py --forward-to``) as subprocesses; the sink and the Graph
stand-in run next to the load generator. The servers are driven by ``wrk`` (installed with
apt-get when missing; a Python load generator in another process otherwise) over loopback with
signed Teams channel messages, alternating bare/bot rounds.

Two figures, each against the bare handler measured in the same run:

* quiet: messages that trigger no rule, each with a fresh activity id (target >= 0.5);
* nudge: messages that trigger ``chat-before-phone``, each from a distinct sender in a distinct
  conversation, so that every one really earns a nudge, which the bot sends as a targeted message
  through its real outbound path (msal token from the Entra stand-in, HTTPS to the connector
  sink). The figure is nudges delivered per second, the time to drain the send queue included,
  over the bare handler's requests per second (target >= 0.25). The nudge floor (parse, answer,
  one POST) is measured beside it, as the ceiling of that figure on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.entra import EntraStandIn  # noqa: E402
from tests.harness.openid_server import BOT_APP_ID, SERVICE_URL, TENANT_ID, OpenIdStandIn  # noqa: E402
from tests.harness.tls import shared_test_ca  # noqa: E402

QUIET_TEXT = "第3会議室の予約を14時から16時に変更しました。"
NUDGE_TEXT = "この件は後ほどお電話ください。"  # fires chat-before-phone (delivery: targeted)
NUDGE_RULE = "chat-before-phone"
TARGET_RATIO = 0.5
NUDGE_TARGET_RATIO = 0.25
BOT_SECRET = "bench-secret"
MARKER = "@@N@@"
PERSON_MARKER = "@@P@@"  # becomes the request's number modulo PEOPLE: a realistic pool of senders
PEOPLE = 1000
"""Replaced in every request body by the request's counter (12 digits, zero-padded)."""
OFFSET_STRIDE = 1_000_000
"""Each load run numbers its requests from a fresh multiple of this: no id repeats across runs."""
DRAIN_IDLE_S = 2.0
DRAIN_TIMEOUT_S = 120.0

LUA_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local function slurp(path)
  local file = assert(io.open(path, "rb"))
  local content = file:read("*a")
  file:close()
  return content
end
wrk.headers["Authorization"] = slurp(%(authorization)s)
local template = slurp(%(body)s)
local marker = %(marker)s
-- the template split on the marker, so that each request is one table.concat
local parts = {}
local start = 1
while true do
  local first, last = string.find(template, marker, start, true)
  if not first then
    parts[#parts + 1] = string.sub(template, start)
    break
  end
  parts[#parts + 1] = string.sub(template, start, first - 1)
  start = last + 1
end
local counter = %(offset)d
local people = %(people)d
request = function()
  counter = counter + 1
  local body = table.concat(parts, string.format("%%012d", counter))
  body = string.gsub(body, "@@P@@", string.format("%%012d", counter %% people))
  return wrk.format(nil, nil, nil, body)
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50_ms\\": %%f, \\"p99_ms\\": %%f, \\"errors\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    non2xx + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def channel_message(
    text: str, service_url: str = SERVICE_URL, *, distinct_people: bool = False
) -> dict[str, Any]:
    """A Teams channel message as the channel posts it; ``MARKER`` in it becomes the request's number.

    The activity id always carries the marker (each request is a new message). With
    ``distinct_people`` the conversation (thread) carries it too, so that Teams' per-conversation
    send pacing (~7/s) does not apply, and the sender is one of ``PEOPLE`` staff (the bot runs
    with high daily caps, so each message is nudged; departments are looked up once a person).
    """
    sender_id, sender_aad, thread = "29:1bench-user", "11111111-2222-3333-4444-555555555555", "1700000000001"
    if distinct_people:
        sender_id, sender_aad, thread = (
            f"29:1bench-{PERSON_MARKER}",
            f"00000000-0000-4000-8000-{PERSON_MARKER}",
            MARKER,
        )
    return {
        "type": "message",
        "id": MARKER,
        "timestamp": "2026-11-25T01:00:00.000Z",
        "localTimestamp": "2026-11-25T10:00:00.000+09:00",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {
            "id": sender_id,
            "aadObjectId": sender_aad,
            "name": "前橋 太郎",
        },
        "conversation": {
            "id": f"19:bench@thread.tacv2;messageid={thread}",
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TENANT_ID,
        },
        "recipient": {"id": f"28:{BOT_APP_ID}", "name": "ポリシーボット"},
        "textFormat": "plain",
        "text": f"<p>{text}</p>",
        "attachments": [{"contentType": "text/html", "content": f"<p>{text}</p>"}],
        "entities": [
            {
                "type": "clientInfo",
                "locale": "ja-JP",
                "country": "JP",
                "platform": "Web",
                "timezone": "Asia/Tokyo",
            }
        ],
        "channelData": {
            "teamsChannelId": "19:bench@thread.tacv2",
            "teamsTeamId": "19:team@thread.tacv2",
            "channel": {"id": "19:bench@thread.tacv2"},
            "team": {"id": "19:team@thread.tacv2"},
            "tenant": {"id": TENANT_ID},
        },
        "locale": "ja-JP",
    }


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(command: list[str], cpu: int) -> list[str]:
    """Run on one CPU (servers on 0, load generator on 1) so the two do not steal from each other."""
    taskset = shutil.which("taskset")
    if taskset and (os.cpu_count() or 1) >= 2:
        return [taskset, "-c", str(cpu), *command]
    return command


def lua_string(value: str) -> str:
    """A Lua string literal (JSON escaping is valid Lua for what we need)."""
    return json.dumps(value, ensure_ascii=True)


async def wait_until_up(port: int, process: asyncio.subprocess.Process, name: str) -> None:
    """Poll /healthz until the server answers."""
    for _ in range(300):
        if process.returncode is not None:
            raise SystemExit(f"{name} exited with {process.returncode} before it was ready")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
            if answer.startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{name} did not come up")


def ensure_wrk() -> str | None:
    """The wrk binary, installing it with apt-get when possible."""
    found = shutil.which("wrk")
    if found:
        return found
    try:
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=180, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shutil.which("wrk")


# a random start per command, so that a second command against a kept database (DATABASE_URL)
# does not meet the first one's ids, daily caps and claims
_offsets = iter(range(random.randrange(1, 9000) * 10**8, 10**12, OFFSET_STRIDE))


async def drive(
    url: str, body_template: str, authorization: str, seconds: float, connections: int, wrk: str | None
) -> dict[str, Any]:
    """Run the load generator (another process) against url; its parsed result.

    Every ``MARKER`` in ``body_template`` becomes the request's number, counted from a fresh
    offset per run, so ids (and, where the template varies them, senders) never repeat.
    """
    offset = next(_offsets)
    work = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    paths = {}
    for name, content in (("authorization", authorization), ("body", body_template)):
        paths[name] = work / name
        paths[name].write_bytes(content.encode())  # read by Lua: no escaping of the Japanese text
    script = work / "post.lua"
    script.write_text(
        LUA_SCRIPT
        % {
            **{name: lua_string(str(path)) for name, path in paths.items()},
            "marker": lua_string(MARKER),
            "offset": offset,
            "people": PEOPLE,
        }
    )
    try:
        if wrk:
            command = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url]
        else:
            command = [
                sys.executable,
                __file__,
                "--load",
                url,
                "--seconds",
                str(seconds),
                "--connections",
                str(connections),
            ]
            os.environ["BENCH_AUTHORIZATION"] = authorization
            os.environ["BENCH_BODY"] = body_template
            os.environ["BENCH_OFFSET"] = str(offset)
        process = await asyncio.create_subprocess_exec(*pinned(command, 1), stdout=asyncio.subprocess.PIPE)
        output, _ = await process.communicate()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for line in output.decode().splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            result["rps"] = result["requests"] / result["seconds"]
            result["tool"] = "wrk" if wrk else "python"
            return result
    raise SystemExit(f"load generator printed no result:\n{output.decode()}")


async def python_load(url: str, seconds: float, connections: int) -> None:
    """Fallback load generator (run as its own process): N keep-alive connections in a loop."""
    import aiohttp

    authorization = os.environ["BENCH_AUTHORIZATION"]
    parts = os.environ["BENCH_BODY"].split(MARKER)
    offset = int(os.environ.get("BENCH_OFFSET", "0"))
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(offset + 1, 10**12))

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        while time.perf_counter() < deadline:
            number = next(counter)
            body = f"{number:012d}".join(parts).replace(PERSON_MARKER, f"{number % PEOPLE:012d}").encode()
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status >= 300:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    result = {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }
    print("RESULT " + json.dumps(result))


def serve_null_bot() -> None:
    """The real app from the real settings, around an event handler that does nothing."""
    from collections.abc import Sequence

    from aiohttp import web

    from bot.domain import CardAction, IncomingMessage, InstallEvent, InvokeResult, Outgoing
    from bot.ports import SendResult
    from bot.settings import load_settings
    from bot.web import create_app

    class NothingHandler:
        async def on_message(self, message: IncomingMessage) -> Sequence[Outgoing]:
            return ()

        async def on_install(self, event: InstallEvent) -> Sequence[Outgoing]:
            return ()

        async def on_card_action(self, action: CardAction) -> tuple[InvokeResult, Sequence[Outgoing]]:
            return InvokeResult(), ()

    class NothingSender:
        async def send(self, outgoing: Outgoing) -> SendResult:
            raise NotImplementedError

        def enqueue(self, outgoing: Outgoing) -> bool:
            return True

    settings = load_settings()
    app = create_app(settings, handler=NothingHandler(), sender=NothingSender())
    web.run_app(app, host="127.0.0.1", port=settings.port, access_log=None, print=None)


def services_exist() -> bool:
    """True once the lead's bot.service.build_services is in the tree."""
    return (ROOT / "bot" / "service.py").exists()


async def http_get(port: int, path: str) -> bytes:
    """The body of a plain-HTTP GET to a loopback port (one connection, closed after)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    answer = await reader.read()
    writer.close()
    return answer.split(b"\r\n\r\n", 1)[1]


async def read_metrics(port: int) -> dict[str, float]:
    """Every sample of the bot's /metrics, keyed as exposed (e.g. ``nudges_total{rule="x"}``)."""
    text = (await http_get(port, "/metrics")).decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key and not line.startswith("#"):
            try:
                samples[key] = float(value)
            except ValueError:
                continue
    return samples


async def read_metric(port: int, name: str) -> float:
    """One sample from the bot's /metrics."""
    return (await read_metrics(port)).get(name, 0.0)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(before: float | None, after: float | None, requests: int) -> float | None:
    """Microseconds of server CPU per request between two ``cpu_seconds`` readings."""
    if before is None or after is None or not requests:
        return None
    return (after - before) / requests * 1e6


def us(cpu_us: float | None) -> str:
    """A CPU figure for printing ("n/a" where /proc is missing)."""
    return "n/a" if cpu_us is None else f"{cpu_us:.0f}"


def median(values: Iterable[float]) -> float:
    """The middle value (of an odd count; the upper middle of an even one): robust to one bad round."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


async def measured(pid: int, run_load: Any) -> dict[str, Any]:
    """A load run's result plus the server's CPU time per request (insensitive to other load)."""
    before = cpu_seconds(pid)
    result: dict[str, Any] = await run_load
    result["cpu_us"] = cpu_per_request(before, cpu_seconds(pid), result["requests"])
    return result


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds as one: total requests over total time; median p50/p99; summed errors."""
    requests = sum(result["requests"] for result in results)
    return {
        "requests": requests,
        "rps": requests / sum(result["seconds"] for result in results),
        "p50_ms": median(result["p50_ms"] for result in results),
        "p99_ms": median(result["p99_ms"] for result in results),
        "errors": sum(result["errors"] for result in results),
        "tool": results[0]["tool"],
        "cpu_us": (
            sum(result["cpu_us"] * result["requests"] for result in results) / requests
            if all(result.get("cpu_us") is not None for result in results)
            else None
        ),
    }


class ConnectorWatch:
    """Counts the deliveries the connector sink answered (``bench/connector_sink.py``), read on demand."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.delivered = 0  # targeted POST .../activities answered 201
        self.other_calls = 0  # anything else (fallbacks to 1:1 chats, refusals...)
        self.last_delivery_at = 0.0
        self._counts_port = 0

    async def service_url(self) -> str:
        """The serviceUrl the sink printed on start (and where it tells its counts)."""
        assert self.process.stdout is not None
        lines = [
            (await asyncio.wait_for(self.process.stdout.readline(), 60)).decode().strip() for _ in range(2)
        ]
        if not lines[0].startswith("serviceUrl=") or not lines[1].startswith("counts="):
            raise SystemExit(f"the connector sink did not print its addresses (got {lines!r})")
        self._counts_port = int(lines[1].rsplit(":", 1)[1].split("/", 1)[0])
        await self.refresh()
        return lines[0].removeprefix("serviceUrl=")

    async def refresh(self) -> None:
        """Read the sink's counts now."""
        counts = json.loads(await http_get(self._counts_port, "/counts"))
        self.delivered, self.other_calls = counts["delivered"], counts["other"]
        self.last_delivery_at = counts["last_delivery_at"]

    async def quiet_for(self, seconds: float) -> None:
        """Return once no delivery arrived for ``seconds``."""
        while (idle := time.monotonic() - self.last_delivery_at) < seconds:
            await asyncio.sleep(seconds - idle)
            await self.refresh()

    async def drain(self, expected: Callable[[], Awaitable[float]]) -> float:
        """Wait until ``await expected()`` deliveries arrived (or none for DRAIN_IDLE_S); seconds to the last."""
        started = time.monotonic()
        target = await expected()
        while True:
            await self.refresh()
            if self.delivered >= target:
                target = await expected()  # the bot may still be handling the last requests
                if self.delivered >= target:
                    break
            now = time.monotonic()
            if now - max(started, self.last_delivery_at) > DRAIN_IDLE_S or now - started > DRAIN_TIMEOUT_S:
                break
            await asyncio.sleep(0.05)
        return max(0.0, self.last_delivery_at - started)


async def quiet_phase(
    bot: Any,
    bare: Any,
    bot_port: int,
    bare_port: int,
    openid: OpenIdStandIn,
    options: argparse.Namespace,
    wrk: str | None,
    handler_name: str,
    bare_stdlib: Any | None = None,
    bare_stdlib_port: int = 0,
) -> bool:
    """Messages that trigger no rule: print the comparison; True when below target or incomplete.

    ``bare_stdlib``: the bare handler parsing with the standard library's json, measured in the
    same rounds and printed beside the figure (the target is against the orjson one).
    """
    seconds, connections, repeats = options.seconds, options.connections, options.rounds
    body = json.dumps(channel_message(options.text, service_url=options.service_url), ensure_ascii=False)
    authorization = openid.authorization(service_url=options.service_url)
    bot_url = f"http://127.0.0.1:{bot_port}/api/messages"
    bare_url = f"http://127.0.0.1:{bare_port}/api/messages"
    stdlib_url = f"http://127.0.0.1:{bare_stdlib_port}/api/messages"
    for url in (bare_url, bot_url, *([stdlib_url] if bare_stdlib else [])):  # warm-up: keys, token, hot code
        await drive(url, body, authorization, 2, connections, wrk)
    before = await read_metric(bot_port, 'activities_total{type="message"}')
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    stdlib_rounds: list[dict[str, Any]] = []
    for _ in range(repeats):  # alternate, so that noise from other processes hits both alike
        bare_round = await measured(bare.pid, drive(bare_url, body, authorization, seconds, connections, wrk))
        if bare_stdlib is not None:
            stdlib_rounds.append(
                await measured(
                    bare_stdlib.pid, drive(stdlib_url, body, authorization, seconds, connections, wrk)
                )
            )
        bot_round = await measured(bot.pid, drive(bot_url, body, authorization, seconds, connections, wrk))
        rounds.append((bare_round, bot_round))
    handled = await read_metric(bot_port, 'activities_total{type="message"}') - before

    bare_result, bot_result = (
        combine([first for first, _ in rounds]),
        combine([second for _, second in rounds]),
    )
    overall_ratio = bot_result["rps"] / bare_result["rps"]
    ratio = median(second["rps"] / first["rps"] for first, second in rounds)
    print()
    print(
        f"POST /api/messages, {connections} connections, {repeats} alternating rounds of {seconds:g} s each, "
        f"load by {bot_result['tool']}, {os.cpu_count()} CPUs"
        + (" (servers pinned to CPU 0, load to CPU 1)" if pinned([], 0) else "")
    )
    for number, (bare_round, bot_round) in enumerate(rounds, 1):
        round_ratio = bot_round["rps"] / bare_round["rps"]
        print(
            f"  round {number}: bare {bare_round['rps']:.0f} req/s, bot {bot_round['rps']:.0f} req/s, ratio {round_ratio:.2f}"
        )
    print(f"bot: auth ON (RS256 via the OpenID stand-in, token cached), event handler: {handler_name}")
    print_table(bare_result, bot_result, "bot")
    print(
        f"ratio bot/bare: {ratio:.2f} median of rounds, {overall_ratio:.2f} overall (target >= {TARGET_RATIO})"
    )
    if bare_result["cpu_us"] and bot_result["cpu_us"]:
        print(
            f"CPU-bound ratio (bare CPU per request / bot CPU per request): "
            f"{bare_result['cpu_us'] / bot_result['cpu_us']:.2f}  (what the ratio would be on an idle machine)"
        )
    if stdlib_rounds:
        stdlib_result = combine(stdlib_rounds)
        stdlib_ratio = median(
            bot["rps"] / s["rps"] for s, (_, bot) in zip(stdlib_rounds, rounds, strict=True)
        )
        print(
            f"against the bare handler parsing with the standard library's json (as request.json() does): "
            f"{stdlib_result['rps']:.0f} req/s, {us(stdlib_result['cpu_us'])} us CPU per request; "
            f"ratio bot/bare {stdlib_ratio:.2f} median of rounds"
        )
        SUMMARY.append(f"quiet, against a bare handler on the standard library's json: {stdlib_ratio:.2f}")
    print(f"activities the bot counted as messages: {handled:.0f} for {bot_result['requests']} requests")
    failed = bot_result["errors"] > 0 or handled < bot_result["requests"] * 0.99
    if failed:
        print("FAIL: the bot did not answer every request with 2xx / did not handle every message")
    SUMMARY.append(
        f"quiet: bot/bare {ratio:.2f} (target >= {TARGET_RATIO}), bot p50 {bot_result['p50_ms']:.2f} ms, "
        f"p99 {bot_result['p99_ms']:.2f} ms"
    )
    return failed or ratio < TARGET_RATIO


def print_table(bare_result: dict[str, Any], bot_result: dict[str, Any], bot_name: str) -> None:
    """The req/s, latency, errors and CPU table of one phase."""
    print(f"{'':14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'server CPU us/req':>19}")
    for name, result in (("bare handler", bare_result), (bot_name, bot_result)):
        cpu = us(result["cpu_us"])
        print(
            f"{name:14}{result['rps']:>10.0f}{result['p50_ms']:>10.2f}{result['p99_ms']:>10.2f}"
            f"{result['errors']:>8}{cpu:>19}"
        )


def metric_sum(samples: dict[str, float], name: str) -> float:
    """The sum of a metric's samples over all label values."""
    return sum(value for key, value in samples.items() if key == name or key.startswith(name + "{"))


async def delivery_round(
    pid: int,
    watch: ConnectorWatch,
    load: Callable[[], Awaitable[dict[str, Any]]],
    expected: Callable[[int, dict[str, Any]], Awaitable[float]],
    settle: Callable[[int], Awaitable[None]],
) -> dict[str, Any]:
    """One load run on a server that answers each message with a delivery to the sink, then the
    wait until those deliveries are in; the drain counts in the CPU and in the delivered rate.

    ``expected(delivered_before, result)``: the sink's count once every message got its
    delivery; ``settle(delivered)``: what else to wait for once they are in.
    """
    await watch.refresh()
    delivered_before = watch.delivered
    cpu_before = cpu_seconds(pid)
    result = await load()
    await watch.refresh()
    result["delivered_during"] = watch.delivered - delivered_before
    result["drain_s"] = await watch.drain(lambda: expected(delivered_before, result))
    await watch.refresh()
    await settle(watch.delivered - delivered_before)
    result["cpu_us"] = cpu_per_request(cpu_before, cpu_seconds(pid), result["requests"])
    await watch.refresh()
    result["delivered"] = watch.delivered - delivered_before
    result["e2e_rps"] = result["delivered"] / (result["seconds"] + result["drain_s"])
    return result


async def nudge_round(
    bot: Any,
    bot_port: int,
    watch: ConnectorWatch,
    url: str,
    body: str,
    authorization: str,
    seconds: float,
    connections: int,
    wrk: str | None,
) -> dict[str, Any]:
    """One load run on the bot with nudging messages, then the wait until the send queue is drained."""
    metrics_before = await read_metrics(bot_port)
    handled_key = 'activities_total{type="message"}'

    async def expected(delivered_before: int, _result: dict[str, Any]) -> float:
        """The sink's count once every message handled in this round got its nudge."""
        samples = await read_metrics(bot_port)
        return delivered_before + samples.get(handled_key, 0.0) - metrics_before.get(handled_key, 0.0)

    async def bookkept(delivered: int) -> None:
        # The sink counts a delivery before the bot has finished with it (the sent-nudge record,
        # nudges_total): wait for that too, so that the counts agree and its CPU is in the figure.
        settle_until = time.monotonic() + 2.0
        while time.monotonic() < settle_until:
            samples = await read_metrics(bot_port)
            if metric_sum(samples, "nudges_total") - metric_sum(metrics_before, "nudges_total") >= delivered:
                return
            await asyncio.sleep(0.02)

    result = await delivery_round(
        bot.pid,
        watch,
        lambda: drive(url, body, authorization, seconds, connections, wrk),
        expected,
        bookkept,
    )
    metrics_after = await read_metrics(bot_port)
    for key, name in (
        ("handled", handled_key),
        ("nudges", "nudges_total"),
        ("calls_201", 'outgoing_calls_total{status="201"}'),
        ("calls", "outgoing_calls_total"),
        ("dropped", "outgoing_rejected_total"),
    ):
        result[key] = round(metric_sum(metrics_after, name) - metric_sum(metrics_before, name))
    return result


def floor_activity() -> dict[str, Any]:
    """The targeted activity the nudge floor posts: the bot's real nudge card for NUDGE_TEXT
    (as the bot words it with the settings the bench gives it: no how-to portal links)."""
    from bot.services.nudges import nudge_item
    from bot.teams.outbound.activities import ADAPTIVE_CARD_CONTENT_TYPE
    from cards.nudge import NudgeView, nudge_card
    from policy_rules.engine import load_rule_set
    from policy_rules.model import MessageInput

    rules = load_rule_set()
    message = MessageInput(text=NUDGE_TEXT, conversation_type="channel", is_reply=False, attachments=())
    finding = next(f for f in rules.evaluate(message) if f.rule_id == NUDGE_RULE)
    item = nudge_item(rules.rule(NUDGE_RULE), finding, howto_urls={})
    card = nudge_card(NudgeView(nudge_id="0" * 20, items=(item,)))
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "content": card}]}


async def floor_round(
    floor: Any,
    watch: ConnectorWatch,
    url: str,
    body: str,
    authorization: str,
    seconds: float,
    connections: int,
    wrk: str | None,
) -> dict[str, Any]:
    """One load run on the nudge floor, then the wait until every answered message was forwarded."""

    async def expected(delivered_before: int, result: dict[str, Any]) -> float:
        return float(delivered_before + result["requests"])

    async def stragglers(_delivered: int) -> None:
        # a request the load generator gave up on at its end may still be forwarded: count it here
        await watch.quiet_for(0.3)

    return await delivery_round(
        floor.pid,
        watch,
        lambda: drive(url, body, authorization, seconds, connections, wrk),
        expected,
        stragglers,
    )


async def nudge_phase(
    bot: Any,
    bare: Any,
    bot_port: int,
    bare_port: int,
    openid: OpenIdStandIn,
    options: argparse.Namespace,
    wrk: str | None,
    watch: ConnectorWatch,
    service_url: str,
    entra: EntraStandIn,
    floor: Any | None = None,
    floor_port: int = 0,
) -> bool:
    """Messages that each earn a nudge: print the comparison; True when below target or lossy."""
    seconds, connections, repeats = options.seconds, options.connections, options.rounds
    body = json.dumps(
        channel_message(NUDGE_TEXT, service_url=service_url, distinct_people=True), ensure_ascii=False
    )
    # the token's serviceurl claim must equal the activities' serviceUrl
    authorization = openid.authorization(service_url=service_url)
    bot_url = f"http://127.0.0.1:{bot_port}/api/messages"
    bare_url = f"http://127.0.0.1:{bare_port}/api/messages"
    floor_url = f"http://127.0.0.1:{floor_port}/api/messages"
    await drive(bare_url, body, authorization, 2, connections, wrk)  # warm-up
    if floor is not None:
        await floor_round(floor, watch, floor_url, body, authorization, 2, connections, wrk)
    warm = await nudge_round(bot, bot_port, watch, bot_url, body, authorization, 2, connections, wrk)
    if warm["delivered"] == 0:
        print(
            f"\nFAIL: no nudge reached the connector sink in the warm-up ({warm['handled']} messages handled, "
            f"{warm['calls']} outgoing calls, {watch.other_calls} other connector calls); "
            "see the bot's log above"
        )
        SUMMARY.append("nudge: FAIL, no nudge delivered")
        return True
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    floor_rounds: list[dict[str, Any]] = []
    for _ in range(repeats):  # alternate, as in the quiet phase; the drain ends each bot round
        bare_round = await measured(bare.pid, drive(bare_url, body, authorization, seconds, connections, wrk))
        if floor is not None:
            floor_rounds.append(
                await floor_round(floor, watch, floor_url, body, authorization, seconds, connections, wrk)
            )
        bot_round = await nudge_round(
            bot, bot_port, watch, bot_url, body, authorization, seconds, connections, wrk
        )
        rounds.append((bare_round, bot_round))

    bare_result, bot_result = (
        combine([first for first, _ in rounds]),
        combine([second for _, second in rounds]),
    )
    bots = [second for _, second in rounds]
    totals = {
        key: sum(r[key] for r in bots)
        for key in ("delivered", "delivered_during", "handled", "nudges", "calls_201", "dropped", "requests")
    }
    run_s = sum(r["seconds"] for r in bots)
    drain_s = sum(r["drain_s"] for r in bots)
    e2e_rps = totals["delivered"] / (run_s + drain_s)
    ratio = median(second["e2e_rps"] / first["rps"] for first, second in rounds)
    inbound_ratio = bot_result["rps"] / bare_result["rps"]
    print()
    print(
        f"NUDGE: POST /api/messages with 「{NUDGE_TEXT}」 ({NUDGE_RULE}, targeted), a distinct sender and "
        f"conversation per request, {connections} connections, {repeats} alternating rounds of {seconds:g} s, "
        f"load by {bot_result['tool']}"
    )
    print(
        f"bot: auth ON; nudges sent through its real outbound path: msal token from the HTTPS Entra stand-in "
        f"({entra.successful_token_requests()} token requests), HTTPS to the Bot Connector sink at {service_url} "
        f"(own process{', CPU 1' if pinned([], 1) else ''})"
    )
    for number, (bare_round, bot_round) in enumerate(rounds, 1):
        floor_part = ""
        if floor_rounds:
            floor_part = (
                f"floor {floor_rounds[number - 1]['e2e_rps']:.0f}/s "
                f"(ratio {floor_rounds[number - 1]['e2e_rps'] / bare_round['rps']:.2f}); "
            )
        print(
            f"  round {number}: bare {bare_round['rps']:.0f} req/s; {floor_part}bot {bot_round['rps']:.0f} req/s in, "
            f"{bot_round['delivered_during'] / bot_round['seconds']:.0f} nudges/s delivered during the run, "
            f"{bot_round['e2e_rps']:.0f}/s with the drain ({bot_round['drain_s']:.2f} s); "
            f"ratio {bot_round['e2e_rps'] / bare_round['rps']:.2f}"
        )
    print_table(bare_result, bot_result, "bot (inbound)")
    print("  (bot CPU us/req includes the send-queue drain after each round)")
    print(
        f"requests answered 2xx: {totals['requests'] - bot_result['errors']} of {totals['requests']}; "
        f"messages the bot handled: {totals['handled']}"
    )
    print(
        f"nudges delivered (targeted POSTs the connector sink answered 201): {totals['delivered']} "
        f"({totals['delivered_during']} during the runs); bot metrics: nudges_total +{totals['nudges']}, "
        f'outgoing_calls_total{{status="201"}} +{totals["calls_201"]}, '
        f"outgoing_rejected_total (queue drops) +{totals['dropped']}"
    )
    print(
        f"delivered/s: {totals['delivered_during'] / run_s:.0f} during the runs, "
        f"{e2e_rps:.0f} including the drain ({drain_s:.2f} s in all); inbound {bot_result['rps']:.0f} req/s"
    )
    print(
        f"ratio nudge path/bare (delivered/s with drain over bare req/s): {ratio:.2f} median of rounds, "
        f"{e2e_rps / bare_result['rps']:.2f} overall (target >= {NUDGE_TARGET_RATIO}); "
        f"inbound req/s only: {inbound_ratio:.2f}"
    )
    if floor_rounds:
        floor_result = combine(floor_rounds)
        floor_delivered = sum(r["delivered"] for r in floor_rounds)
        floor_e2e = floor_delivered / sum(r["seconds"] + r["drain_s"] for r in floor_rounds)
        floor_ratio = median(f["e2e_rps"] / b["rps"] for f, (b, _) in zip(floor_rounds, rounds, strict=True))
        print(
            f"nudge floor (bench/bare_handler.py --forward-to: parse, answer, one targeted HTTPS POST through "
            f"the bot's keep-alive client; no rules, card, database or statistics): {floor_e2e:.0f} delivered/s, "
            f"{us(floor_result['cpu_us'])} us CPU per message, {floor_delivered} of "
            f"{floor_result['requests']} delivered; ratio to bare {floor_ratio:.2f} (median of rounds); "
            f"bot / floor {ratio / floor_ratio:.2f}"
        )
        SUMMARY.append(
            f"nudge floor: delivered/bare {floor_ratio:.2f} ({us(floor_result['cpu_us'])} us per message); "
            f"the bot reaches {ratio / floor_ratio:.2f} of it ({us(bot_result['cpu_us'])} us per nudge)"
        )
    missing = totals["handled"] - totals["delivered"]
    complete = missing == 0 and totals["handled"] >= totals["requests"] and bot_result["errors"] == 0
    if complete:
        print(f"every message got its nudge: delivered == handled == {totals['delivered']}")
    else:
        print(
            f"FAIL: not every message got its nudge: {max(missing, 0)} of {totals['handled']} handled messages "
            f"got none ({totals['dropped']} dropped by the full send queue); "
            f"{bot_result['errors']} requests not answered 2xx"
        )
    SUMMARY.append(
        f"nudge: delivered/bare {ratio:.2f} (target >= {NUDGE_TARGET_RATIO}), inbound p50 "
        f"{bot_result['p50_ms']:.2f} ms, p99 {bot_result['p99_ms']:.2f} ms, "
        f"{totals['delivered']}/{totals['handled']} delivered"
    )
    return not complete or ratio < NUDGE_TARGET_RATIO


SUMMARY: list[str] = []


async def start_helper(
    module: str, arguments: list[str], environment: dict[str, str], cpu: int
) -> asyncio.subprocess.Process:
    """A stand-in from tests.harness as its own (unbuffered) process, stdout piped to us."""
    command = [sys.executable, "-u", "-m", module, *arguments]
    return await asyncio.create_subprocess_exec(
        *pinned(command, cpu), cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE
    )


async def run(options: argparse.Namespace) -> int:
    """Start everything, run the phases, print the comparisons; exit status 1 when below target."""
    wrk = ensure_wrk()  # before anything runs: apt-get may take a while
    phases = ("quiet", "nudge") if options.phase == "both" else (options.phase,)
    work_dir = tempfile.mkdtemp(prefix="bench-bot-")
    # one test CA for this process's Entra stand-in and the connector and Graph processes
    os.environ["TEST_CA_DIR"] = str(Path(work_dir) / "ca")
    ca = shared_test_ca()
    openid = await OpenIdStandIn().start()
    entra = await EntraStandIn(client_id=BOT_APP_ID, client_secret=BOT_SECRET, tls=ca).start()
    bot_port, bare_port = free_port(), free_port()
    helpers: list[asyncio.subprocess.Process] = []
    helper_tasks: list[asyncio.Task[bytes]] = []
    helper_environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    watch: ConnectorWatch | None = None
    connector_url = ""
    graph_base_url = f"https://127.0.0.1:{free_port()}/v1.0"  # unused: nothing leaves the machine
    if "nudge" in phases:
        connector = await start_helper("bench.connector_sink", [], helper_environment, 1)
        helpers.append(connector)
        watch = ConnectorWatch(connector)
        connector_url = await watch.service_url()
        # every new sender costs the bot one department look-up: answer it as Graph would (404)
        graph = await start_helper("tests.harness.graph", [], helper_environment, 1)
        helpers.append(graph)
        assert graph.stdout is not None
        line = (await asyncio.wait_for(graph.stdout.readline(), 60)).decode().strip()
        if line.startswith("graph_base_url="):
            graph_base_url = line.removeprefix("graph_base_url=")
        helper_tasks.append(asyncio.create_task(graph.stdout.read()))  # keep its pipe empty
    environment = {
        **os.environ,
        **ca.env(),
        "MicrosoftAppId": BOT_APP_ID,
        "MicrosoftAppPassword": BOT_SECRET,
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": TENANT_ID,
        "ToChannelFromBotLoginUrl": entra.authority(TENANT_ID),
        "ToBotFromChannelOpenIdMetadataUrl": openid.metadata_url,
        "ALLOWED_TENANT_IDS": TENANT_ID,
        "GRAPH_BASE_URL": graph_base_url,
        "OUTBOUND_GLOBAL_RATE": "100000",
        "NUDGE_PER_RULE_DAILY_CAP": "100",
        "NUDGE_DAILY_CAP": "100",
        "OUTBOUND_QUEUE_SIZE": "100000",
        "PORT": str(bot_port),
        "HOST": "127.0.0.1",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": options.bot_log_level,
        "DATA_DIR": work_dir,
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite+aiosqlite:///{work_dir}/bench.db"),
        "PYTHONPATH": str(ROOT),
    }
    handler = options.handler
    use_services = handler == "services" or (handler == "auto" and services_exist())
    bot_command = (
        [sys.executable, "app.py"] if use_services else [sys.executable, __file__, "--serve-null-bot"]
    )
    if options.profile:
        bot_command[1:1] = ["-m", "cProfile", "-o", options.profile]  # made absolute in main()
    bot = await asyncio.create_subprocess_exec(*pinned(bot_command, 0), cwd=ROOT, env=environment)
    bare_command = [sys.executable, str(ROOT / "bench" / "bare_handler.py"), "--port", str(bare_port)]
    bare = await asyncio.create_subprocess_exec(*pinned(bare_command, 0), cwd=ROOT)
    bare_stdlib: asyncio.subprocess.Process | None = None
    bare_stdlib_port = 0
    if "quiet" in phases:
        bare_stdlib_port = free_port()
        bare_stdlib = await asyncio.create_subprocess_exec(
            *pinned([*bare_command[:2], "--port", str(bare_stdlib_port), "--parser", "json"], 0), cwd=ROOT
        )
    floor: asyncio.subprocess.Process | None = None
    floor_port = 0
    if "nudge" in phases and use_services and not options.no_floor:
        floor_port = free_port()
        activity_file = Path(work_dir) / "floor-activity.json"
        activity_file.write_text(json.dumps(floor_activity(), ensure_ascii=False))
        floor_command = [
            *bare_command[:2],
            "--port",
            str(floor_port),
            "--forward-to",
            connector_url,
            "--forward-body",
            str(activity_file),
        ]
        floor = await asyncio.create_subprocess_exec(*pinned(floor_command, 0), cwd=ROOT, env=environment)
    failed = False
    try:
        try:
            await wait_until_up(bot_port, bot, "bot")
        except SystemExit as failure:
            if handler != "auto" or not use_services:
                raise
            print(
                f"app.py did not start ({failure}); falling back to a handler that does nothing",
                file=sys.stderr,
            )
            use_services = False
            bot = await asyncio.create_subprocess_exec(
                *pinned([sys.executable, __file__, "--serve-null-bot"], 0), cwd=ROOT, env=environment
            )
            await wait_until_up(bot_port, bot, "bot")
        await wait_until_up(bare_port, bare, "bare handler")
        if floor is not None:
            await wait_until_up(floor_port, floor, "nudge floor")
        if bare_stdlib is not None:
            await wait_until_up(bare_stdlib_port, bare_stdlib, "bare handler (json)")
        print(f"bot pid {bot.pid}, bare handler pid {bare.pid}", file=sys.stderr)
        handler_name = (
            "bot.service.build_services (app.py)" if use_services else "a handler that does nothing"
        )
        if "quiet" in phases:
            failed |= await quiet_phase(
                bot,
                bare,
                bot_port,
                bare_port,
                openid,
                options,
                wrk,
                handler_name,
                bare_stdlib,
                bare_stdlib_port,
            )
        if "nudge" in phases:
            assert watch is not None
            if not use_services:
                print("\nnudge phase skipped: the bot runs a handler that does nothing")
                SUMMARY.append("nudge: not measured (no real handler)")
                failed = True
            else:
                failed |= await nudge_phase(
                    bot,
                    bare,
                    bot_port,
                    bare_port,
                    openid,
                    options,
                    wrk,
                    watch,
                    connector_url,
                    entra,
                    floor,
                    floor_port,
                )
    finally:
        # the bot first: it sends what is still queued when it stops, so the connector must be up
        for group in (
            (bot, bare, *([floor] if floor else []), *([bare_stdlib] if bare_stdlib else [])),
            helpers,
        ):
            for process in group:
                if process.returncode is None:
                    process.terminate()
            for process in group:
                await asyncio.wait_for(process.wait(), 20)
        await openid.close()
        await entra.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    print()
    for line in SUMMARY:
        print(line)
    print("RESULT: " + ("FAIL (a figure is below its target or messages were lost)" if failed else "OK"))
    return 1 if failed else 0


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", choices=["quiet", "nudge", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=3, help="length of one round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/bot rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--text", default=QUIET_TEXT, help="quiet phase: message text (default: one that triggers no rule)"
    )
    parser.add_argument("--service-url", default=SERVICE_URL, help="quiet phase: serviceUrl of the messages")
    parser.add_argument("--handler", choices=["auto", "services", "null"], default="auto")
    parser.add_argument("--bot-log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="WARNING")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the bot under cProfile and write its statistics to FILE (slows the bot: the figures "
        "are then only for finding where time goes)",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="nudge phase: skip the nudge floor (the least any bot does for a nudge: parse, answer, one POST)",
    )
    parser.add_argument("--serve-null-bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_null_bot:
        serve_null_bot()
        return 0
    if arguments.load:
        asyncio.run(python_load(arguments.load, arguments.seconds, arguments.connections))
        return 0
    if arguments.profile:
        arguments.profile = str(Path(arguments.profile).resolve())  # the bot runs in ROOT
    if pinned([], 1) and hasattr(os, "sched_setaffinity"):
        # this process runs the stand-ins and polls the connector sink: keep it off the servers' CPU
        os.sched_setaffinity(0, {1})
    return asyncio.run(run(arguments))


if __name__ == "__main__":
    sys.exit(main())
