"""The offline MiniLM embedding provider (real model, CPU, no network)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.providers.runtime import CredentialsValidateFailedError, ModelNotSupportedError, ModelType
from apps.providers.runtime.minilm import MODEL_NAME, MiniLMProvider

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_list_models_gives_the_one_model() -> None:
    [model] = MiniLMProvider().list_models({})
    assert (model.model, model.model_type, model.dimensions) == (
        MODEL_NAME,
        ModelType.TEXT_EMBEDDING,
        384,
    )


def test_embed_returns_normalized_384_dim_vectors() -> None:
    texts = ["The cat sits on the mat.", "A kitten is resting on a rug.", "Stock prices fell."]
    result = MiniLMProvider().embed({}, MODEL_NAME, texts)
    assert result.model == MODEL_NAME
    assert [len(v) for v in result.vectors] == [384, 384, 384]
    assert all(isinstance(x, float) for x in result.vectors[0])
    for vector in result.vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)
    cat, kitten, stocks = result.vectors
    assert _cosine(cat, kitten) > _cosine(cat, stocks) + 0.2
    assert result.usage.prompt_tokens > len(" ".join(texts).split())  # tokenizer count


def test_embed_empty_list_and_unknown_model() -> None:
    assert MiniLMProvider().embed({}, MODEL_NAME, []).vectors == []
    with pytest.raises(ModelNotSupportedError):
        MiniLMProvider().embed({}, "bge-large", ["x"])


def test_validate_credentials_loads_and_embeds() -> None:
    MiniLMProvider().validate_credentials({})


def test_validate_reports_load_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("model files missing")

    monkeypatch.setattr(MiniLMProvider, "embed", broken)
    with pytest.raises(CredentialsValidateFailedError, match="model files missing"):
        MiniLMProvider().validate_credentials({})


def test_chat_is_not_supported() -> None:
    with pytest.raises(ModelNotSupportedError):
        MiniLMProvider().chat({}, MODEL_NAME, [])


def test_importing_the_runtime_does_not_import_torch() -> None:
    code = (
        "import sys, apps.providers.runtime as r; r.register_builtin_providers(); "
        "import apps.providers.runtime.minilm; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
