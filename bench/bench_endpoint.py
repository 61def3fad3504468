"""Benchmark: POST /api/messages of the real bot (authentication on) against a bare aiohttp handler.

    .venv/bin/python bench/bench_endpoint.py [--phase quiet|nudge|both] [--seconds 3] [--rounds 5]

Starts, in this one command: the OpenID/JWKS stand-in and the HTTPS Entra stand-in (in this
process), the bot as a subprocess (``app.py`` once ``bot.service.build_services`` exists, else the
same app around an event handler that does nothing, which the output says),
``bench/bare_handler.py`` as a subprocess and, for the nudge phase, the fake Bot Connector over
HTTPS (``tests.harness.fake_connector``) as a subprocess next to the load generator. The servers
are driven by ``wrk`` (installed with apt-get when missing; a Python load generator in another
process otherwise) over loopback with signed Teams channel messages, alternating bare/bot rounds.

Two figures, each against the bare handler measured in the same run:

* quiet: messages that trigger no rule, each with a fresh activity id (target >= 0.5);
* nudge: messages that trigger ``chat-before-phone``, each from a distinct sender in a distinct
  conversation, so that every one really earns a nudge, which the bot sends as a targeted message
  through its real outbound path (msal token from the Entra stand-in, HTTPS to the fake
  connector). The figure is nudges delivered per second, the time to drain the send queue
  included, over the bare handler's requests per second (target >= 0.25).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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
"""Replaced in every request body by the request's counter (12 digits, zero-padded)."""
OFFSET_STRIDE = 10_000_000
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
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, table.concat(parts, string.format("%%012d", counter)))
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
    ``distinct_people`` the sender and the conversation (thread) carry it too, so that neither the
    daily nudge caps (per person and rule) nor the per-conversation send pacing (~7/s) apply.
    """
    sender_id, sender_aad, thread = "29:1bench-user", "11111111-2222-3333-4444-555555555555", "1700000000001"
    if distinct_people:
        sender_id, sender_aad, thread = f"29:1bench-{MARKER}", f"00000000-0000-4000-8000-{MARKER}", MARKER
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


_offsets = iter(range(OFFSET_STRIDE, 10**12, OFFSET_STRIDE))


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
            body = f"{next(counter):012d}".join(parts).encode()
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


async def read_metric(port: int, name: str) -> float:
    """One sample from the bot's /metrics."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    text = (await reader.read()).decode()
    writer.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measured(pid: int, run_load: Any) -> dict[str, Any]:
    """A load run's result plus the server's CPU time per request (insensitive to other load)."""
    before = cpu_seconds(pid)
    result: dict[str, Any] = await run_load
    after = cpu_seconds(pid)
    result["cpu_us"] = (
        (after - before) / result["requests"] * 1e6 if before is not None and after is not None else None
    )
    return result


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds as one: total requests over total time; median p50/p99; summed errors."""
    p50 = sorted(result["p50_ms"] for result in results)
    p99 = sorted(result["p99_ms"] for result in results)
    requests = sum(result["requests"] for result in results)
    return {
        "requests": requests,
        "rps": requests / sum(result["seconds"] for result in results),
        "p50_ms": p50[len(p50) // 2],
        "p99_ms": p99[len(p99) // 2],
        "errors": sum(result["errors"] for result in results),
        "tool": results[0]["tool"],
        "cpu_us": (
            sum(result["cpu_us"] * result["requests"] for result in results) / requests
            if all(result.get("cpu_us") is not None for result in results)
            else None
        ),
    }


async def run(
    seconds: float, connections: int, text: str, handler: str, repeats: int, service_url: str = SERVICE_URL
) -> int:
    """Start everything, drive both servers, print the comparison; exit status 1 when below target."""
    wrk = ensure_wrk()  # before anything runs: apt-get may take a while
    openid = await OpenIdStandIn().start()
    bot_port, bare_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="bench-bot-")
    environment = {
        **os.environ,
        "MicrosoftAppId": BOT_APP_ID,
        "MicrosoftAppPassword": "bench-secret",
        "ToBotFromChannelOpenIdMetadataUrl": openid.metadata_url,
        "ALLOWED_TENANT_IDS": TENANT_ID,
        "PORT": str(bot_port),
        "HOST": "127.0.0.1",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite+aiosqlite:///{data_dir}/bench.db"),
        "PYTHONPATH": str(ROOT),
    }
    use_services = handler == "services" or (handler == "auto" and services_exist())
    bot_command = (
        [sys.executable, "app.py"] if use_services else [sys.executable, __file__, "--serve-null-bot"]
    )
    bot = await asyncio.create_subprocess_exec(*pinned(bot_command, 0), cwd=ROOT, env=environment)
    bare_command = [sys.executable, str(ROOT / "bench" / "bare_handler.py"), "--port", str(bare_port)]
    bare = await asyncio.create_subprocess_exec(*pinned(bare_command, 0), cwd=ROOT)
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
        body = json.dumps(channel_message(text, service_url=service_url), ensure_ascii=False)
        authorization = openid.authorization(service_url=service_url)
        bot_url = f"http://127.0.0.1:{bot_port}/api/messages"
        bare_url = f"http://127.0.0.1:{bare_port}/api/messages"
        for url in (bare_url, bot_url):  # warm-up: keys fetched, token cached, code paths hot
            await drive(url, body, authorization, 2, connections, wrk)
        before = await read_metric(bot_port, 'activities_total{type="message"}')
        rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for _ in range(repeats):  # alternate, so that noise from other processes hits both alike
            bare_round = await measured(
                bare.pid, drive(bare_url, body, authorization, seconds, connections, wrk)
            )
            bot_round = await measured(
                bot.pid, drive(bot_url, body, authorization, seconds, connections, wrk)
            )
            rounds.append((bare_round, bot_round))
        handled = await read_metric(bot_port, 'activities_total{type="message"}') - before
    finally:
        for process in (bot, bare):
            if process.returncode is None:
                process.terminate()
        for process in (bot, bare):
            await asyncio.wait_for(process.wait(), 10)
        await openid.close()
        shutil.rmtree(data_dir, ignore_errors=True)

    bare_result, bot_result = (
        combine([first for first, _ in rounds]),
        combine([second for _, second in rounds]),
    )
    overall_ratio = bot_result["rps"] / bare_result["rps"]
    round_ratios = sorted(second["rps"] / first["rps"] for first, second in rounds)
    ratio = round_ratios[len(round_ratios) // 2]  # the median round: robust to one disturbed round
    handler_name = "bot.service.build_services (app.py)" if use_services else "a handler that does nothing"
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
    print(f"{'':14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'server CPU us/req':>19}")
    for name, result in (("bare handler", bare_result), ("bot", bot_result)):
        cpu = f"{result['cpu_us']:.0f}" if result["cpu_us"] is not None else "n/a"
        print(
            f"{name:14}{result['rps']:>10.0f}{result['p50_ms']:>10.2f}{result['p99_ms']:>10.2f}"
            f"{result['errors']:>8}{cpu:>19}"
        )
    print(
        f"ratio bot/bare: {ratio:.2f} median of rounds, {overall_ratio:.2f} overall (target >= {TARGET_RATIO})"
    )
    if bare_result["cpu_us"] and bot_result["cpu_us"]:
        print(
            f"CPU-bound ratio (bare CPU per request / bot CPU per request): "
            f"{bare_result['cpu_us'] / bot_result['cpu_us']:.2f}  (what the ratio would be on an idle machine)"
        )
    print(f"activities the bot counted as messages: {handled:.0f} for {bot_result['requests']} requests")
    failed = bot_result["errors"] > 0 or handled < bot_result["requests"] * 0.99
    if failed:
        print("FAIL: the bot did not answer every request with 2xx / did not handle every message")
    return 1 if failed or ratio < TARGET_RATIO else 0


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3, help="length of one round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/bot rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--text", default=QUIET_TEXT, help="message text (default: one that triggers no rule)"
    )
    parser.add_argument(
        "--service-url", default=SERVICE_URL, help="serviceUrl of the messages (e.g. a fake connector)"
    )
    parser.add_argument("--handler", choices=["auto", "services", "null"], default="auto")
    parser.add_argument("--serve-null-bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_null_bot:
        serve_null_bot()
        return 0
    if arguments.load:
        asyncio.run(python_load(arguments.load, arguments.seconds, arguments.connections))
        return 0
    return asyncio.run(
        run(
            arguments.seconds,
            arguments.connections,
            arguments.text,
            arguments.handler,
            arguments.rounds,
            arguments.service_url,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
