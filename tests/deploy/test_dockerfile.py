"""The Dockerfile's final stage holds everything the app needs (checked without a Docker engine).

The test copies exactly what the final stage COPYs into an empty directory, starts ``app.py``
there with the environment the image sets, and asks /healthz and /readyz: a file left out of
the image (a migration, a rule file, a static asset) shows up here as a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def final_stage() -> str:
    """The Dockerfile's last stage."""
    return re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[-1]


def test_final_stage_is_slim_non_root_and_checked() -> None:
    stage = final_stage()
    assert re.search(r"^USER (?!root)\S+", stage, re.MULTILINE), "runs as a non-root user"
    assert "HEALTHCHECK" in stage and "/healthz" in stage
    assert "build-essential" not in stage and "gcc" not in stage, "no build tools in the final stage"
    assert "COPY --from=build /opt/venv /opt/venv" in stage
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir -r requirements.txt" in DOCKERFILE
    assert "pytest" not in requirements, "test tools stay out of the image"


def test_the_files_the_image_copies_are_enough_to_run_the_app(tmp_path: Path) -> None:
    image = tmp_path / "app"
    image.mkdir()
    copies = re.findall(r"^COPY (?:--chown=\S+ )?(\S+) (\S+)$", final_stage(), re.MULTILINE)
    assert copies
    for source, _target in copies:
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, image / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, image / source)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bot.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "ENVIRONMENT": "test",
    }
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=image,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise AssertionError(
                        f"the app did not start from the image's files:\n{output[-3000:]}"
                    ) from None
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard", timeout=5) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
