"""LangSmith tracing is reported on exactly when its standard variables turn it on (fresh processes:
the langsmith package caches what it read from the environment)."""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = "from eawe.telemetry.langsmith import langsmith_tracing_enabled as f; print(f())"


def _run(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env={**base, **env}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_langsmith_flag_follows_its_standard_variables() -> None:
    assert _run() == "False"
    assert _run(LANGSMITH_TRACING="true") == "False"  # no key: nothing would be sent
    assert _run(LANGSMITH_TRACING="true", LANGSMITH_API_KEY="lsv2-test") == "True"
    assert _run(LANGCHAIN_TRACING_V2="true", LANGCHAIN_API_KEY="lsv2-test") == "True"
