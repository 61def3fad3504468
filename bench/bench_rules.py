"""Benchmark of the policy rule engine with the default rules.

Run from the project root: ``.venv/bin/python bench/bench_rules.py [--seconds S]``.

Prints, all measured in this one run on one core (a single Python thread):
* typical messages per second: the dev corpus repeated;
* long messages (2,000 characters) per second and the p99 time of one long message;
* the NFKC-only baseline over the same texts, and the engine/baseline time ratio;
* the resident memory (RSS) of this process with the default rules loaded.

Times are CPU time of this process (``time.process_time``), so a busy machine does not skew
the figures much; the typical rate is also shown in wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_rules import MessageInput, load_rule_set  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
LONG_LENGTH = 2000


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_messages(path: Path) -> list[MessageInput]:
    """The corpus as MessageInput objects (labels ignored)."""
    messages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        attachments = tuple((a.get("contentType", ""), a.get("name", "")) for a in row.get("attachments", []))
        messages.append(MessageInput(row["text"], row["conversation_type"], row["is_reply"], attachments))
    return messages


def long_messages(messages: list[MessageInput], count: int) -> list[MessageInput]:
    """Messages of exactly LONG_LENGTH characters made by joining corpus texts (rotating start)."""
    texts = [m.text for m in messages]
    result = []
    for k in range(count):
        parts: list[str] = []
        size = 0
        index = k
        while size < LONG_LENGTH:
            piece = texts[index % len(texts)]
            parts.append(piece)
            size += len(piece) + 1
            index += 7
        text = "\n".join(parts)[:LONG_LENGTH]
        result.append(MessageInput(text, ("channel", "groupChat", "personal")[k % 3]))
    return result


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="times the dev corpus is repeated per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over the typical messages")
    parser.add_argument("--long", type=int, default=400, help="number of 2,000-character messages")
    args = parser.parse_args()

    rss_before = rss_mb()
    rules = load_rule_set()
    corpus = load_messages(CORPUS)
    typical = corpus * args.repeat
    longs = long_messages(corpus, args.long)
    for message in corpus[:50] + longs[:5]:  # warm caches (fold table, lazily compiled parts)
        rules.evaluate(message)

    # CPU time of this process (time.process_time): other processes on the machine count less.
    # The typical set runs in several rounds; the best round is the machine's capacity, the
    # median shows the noise of a shared machine.
    round_seconds = []
    wall = time.perf_counter()
    for _ in range(args.rounds):
        start = time.process_time()
        for message in typical:
            rules.evaluate(message)
        round_seconds.append(time.process_time() - start)
    typical_wall = (time.perf_counter() - wall) / args.rounds
    typical_seconds = min(round_seconds)
    typical_median = statistics.median(round_seconds)

    long_times = []
    for message in longs:
        t0 = time.process_time()
        rules.evaluate(message)
        long_times.append(time.process_time() - t0)
    long_seconds = sum(long_times)

    texts = [m.text for m in typical] + [m.text for m in longs]
    start = time.process_time()
    for text in texts:
        unicodedata.normalize("NFKC", text)
    nfkc_seconds = time.process_time() - start
    engine_seconds = typical_seconds + long_seconds

    p99 = statistics.quantiles(long_times, n=100)[98] if len(long_times) >= 2 else long_times[0]
    print(f"rules version            {rules.version} ({len(rules.rules)} rules)")
    print(f"typical messages         {len(typical):,} (dev corpus x{args.repeat})")
    print(
        f"typical messages/s       {len(typical) / typical_seconds:,.0f} CPU time, best of {args.rounds} rounds "
        f"(median {len(typical) / typical_median:,.0f}; wall clock {len(typical) / typical_wall:,.0f})"
    )
    print(f"long messages            {len(longs):,} x {LONG_LENGTH:,} chars")
    print(f"long messages/s          {len(longs) / long_seconds:,.0f}")
    print(f"long message p99         {p99 * 1000:.2f} ms")
    print(f"all messages/s           {len(texts) / engine_seconds:,.0f}")
    print(f"NFKC baseline            {nfkc_seconds * 1000:.1f} ms for the same {len(texts):,} texts")
    print(f"engine time              {engine_seconds * 1000:.1f} ms")
    print(f"ratio engine/NFKC        {engine_seconds / nfkc_seconds:.1f}x")
    print(f"RSS                      {rss_mb():.1f} MB (before loading the engine: {rss_before:.1f} MB)")
    start = time.process_time()
    for _ in range(2_000_000):
        pass
    loop_ns = (time.process_time() - start) / 2_000_000 * 1e9
    print(f"machine calibration      {loop_ns:.1f} ns per empty Python loop iteration (lower is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
