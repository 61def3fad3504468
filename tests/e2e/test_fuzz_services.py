"""Property: generated and mutated activities through the REAL services (rules, nudges, storage,
nominations, the sender) never give a 5xx and never raise an unhandled exception.

The edge's own fuzz test (tests/edge/test_fuzz.py) covers arbitrary bodies and headers; this one
makes sure what gets past the edge cannot break the services behind it. serviceUrl is pinned to
the fake Bot Connector so that nothing is ever sent off this machine.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import verbs
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.edge.test_fuzz import ErrorRecorder, activities
from tests.harness.tls import shared_test_ca

TEXTS = [
    "お疲れ様です。資料を共有します。",
    "承知しました！",
    "後ほどお電話ください。",
    "申請者の電話は090-1234-5678です。",
    "Teamsで会議を予約する手順を教えてください。",
    "設定",
    "ヘルプ",
    "キャンペーン開始",
    "",
]


class StackInThread:
    """The whole e2e stack on a background event loop, so hypothesis can drive it synchronously."""

    def __init__(self, directory: Path) -> None:
        ca = shared_test_ca()
        self._saved = {name: os.environ.get(name) for name in ca.env()}
        os.environ.update(ca.env())
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack: Stack = self._run(start_stack(directory, ca))
        port = int(self.stack.url.rsplit(":", 1)[1])
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        self.token = self.stack.openid.authorization(service_url=self.stack.connector.service_url)
        self.posted = 0

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def post(self, activity: dict[str, Any]) -> int:
        body = json.dumps(activity, allow_nan=True).encode()
        headers = {"Content-Type": "application/json", "Authorization": self.token}
        self.connection.request("POST", "/api/messages", body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        self.posted += 1
        return response.status

    def close(self) -> None:
        self.connection.close()
        self._run(stop_stack(self.stack))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[StackInThread, ErrorRecorder]]:
    recorder = ErrorRecorder()
    logging.getLogger().addHandler(recorder)
    with tempfile.TemporaryDirectory() as directory:
        running = StackInThread(Path(directory))
        try:
            yield running, recorder
        finally:
            running.close()
            logging.getLogger().removeHandler(recorder)


@st.composite
def service_activities(draw: st.DrawFn) -> dict[str, Any]:
    activity = draw(activities())
    if draw(st.booleans()):
        activity["text"] = f"<p>{draw(st.sampled_from(TEXTS))}</p>"
    if activity.get("type") == "invoke" and draw(st.booleans()):
        verb = draw(st.sampled_from(sorted(verbs.ALL_VERBS)))
        data = draw(
            st.dictionaries(
                st.sampled_from(
                    ["nudge_id", "rule_id", "rule_ids", "campaign_id", "wg_id", "department_code", "form"]
                ),
                st.none() | st.text(max_size=12) | st.lists(st.text(max_size=12), max_size=3) | st.integers(),
                max_size=4,
            )
        )
        activity["value"] = {
            "action": {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
        }
    return activity


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(batch=st.lists(service_activities(), min_size=1, max_size=6))
def test_the_services_never_answer_5xx_or_raise(
    served: tuple[StackInThread, ErrorRecorder], batch: list[dict[str, Any]]
) -> None:
    running, recorder = served
    recorder.records.clear()
    for activity in batch:
        activity["serviceUrl"] = running.stack.connector.service_url  # never send off this machine
        status = running.post(activity)
        assert status in {200, 400, 401, 403}, status
        assert not recorder.records, [record.getMessage() for record in recorder.records]
