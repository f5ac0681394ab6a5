"""Sentence embeddings through ONNX Runtime: the same vectors as sentence-transformers, faster.

A sentence-transformers model here is a transformer followed by mean pooling and L2
normalisation. `export_onnx` exports the transformer once (torch's TorchScript-based ONNX
exporter) into the model cache; `OnnxSentenceEncoder` runs it with ONNX Runtime and does
the pooling and normalisation in NumPy. On this 2-core machine that is ~1.8x faster per
query than PyTorch for all-mpnet-base-v2 with vectors equal to 4 decimals (cosine ≥ 0.9999;
`tests/test_embedding.py` checks it, `bench/` measures the speed).

Dynamic int8 quantisation was measured and rejected: all-mpnet-base-v2's vectors moved
to cosine ~0.6 of the fp32 ones (per-channel: worse), which reorders retrieval.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: ONNX operator set of the export; ONNX Runtime 1.2x runs 17 natively.
OPSET = 17
_export_lock = threading.Lock()


class EncoderExportError(RuntimeError):
    """A model could not be exported to ONNX (names the model folder and the cause)."""


def _pooling_mode(model_dir: Path) -> str:
    config = model_dir / "1_Pooling" / "config.json"
    if not config.exists():
        raise EncoderExportError(f"{model_dir}: no 1_Pooling/config.json, so the pooling is unknown")
    data = json.loads(config.read_text())
    if data.get("pooling_mode") == "mean":  # sentence-transformers 6 writes the mode by name
        return "mean"
    modes = {key for key, on in data.items() if key.startswith("pooling_mode_") and on is True}
    if modes != {"pooling_mode_mean_tokens"}:
        raise EncoderExportError(f"{model_dir}: pooling {sorted(modes)} is not supported (mean pooling only)")
    return "mean"


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 512))
    return 512


def export_onnx(model_dir: str | Path, target: Path) -> Path:
    """Export a sentence-transformers model's transformer to ``target`` (an ``.onnx`` file).

    Written to a temporary file and renamed, so concurrent processes (app workers) never
    read a half-written model. A no-op when ``target`` exists.

    Raises:
        EncoderExportError: unsupported pooling, or torch could not export the model.
    """
    model_dir = Path(model_dir)
    _pooling_mode(model_dir)
    if target.exists():
        return target
    with _export_lock:
        if target.exists():
            return target
        import torch
        from transformers import AutoModel, AutoTokenizer

        target.parent.mkdir(parents=True, exist_ok=True)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModel.from_pretrained(str(model_dir)).eval()

        class _LastHiddenState(torch.nn.Module):
            """Keyword-only call, so the exporter does not guess argument positions."""

            def __init__(self, inner) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        sample = tokenizer(["a sample sentence for tracing"], return_tensors="pt")
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        axes = {0: "batch", 1: "tokens"}
        try:
            # The tracer warns about shape-dependent branches of the attention code; the
            # export is checked against PyTorch's vectors in tests/test_embedding.py.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    _LastHiddenState(model),
                    (sample["input_ids"], sample["attention_mask"]),
                    str(staging),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["last_hidden_state"],
                    dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                    opset_version=OPSET,
                    dynamo=False,
                )
            os.replace(staging, target)
        except Exception as exc:  # the exporter raises many types; name the model either way
            staging.unlink(missing_ok=True)
            raise EncoderExportError(f"could not export {model_dir} to ONNX: {exc}") from exc
        log.info("exported %s to %s", model_dir, target)
        return target


#: Initializers smaller than this (biases, layer norms) stay fp32: halving them saves nothing.
FP16_MIN_ELEMENTS = 1024


def store_weights_fp16(path: Path) -> Path:
    """Rewrite the ONNX model at ``path`` so its large fp32 weights are stored in fp16, halving the file.

    Each float initializer of at least `FP16_MIN_ELEMENTS` elements is stored as fp16 and read
    through a ``Cast`` back to fp32, so every operator still computes in fp32 (ONNX Runtime's CPU
    kernels are fp32; its constant folding does the casts once, at session start). Only the
    weights are rounded: measured on the trained encoder (2026-11-29), 86 -> 43 MB, vectors at
    cosine >= 0.99999976 to the fp32 file's and no slower. Already-converted files are left as
    they are. Written to a temporary file and renamed.

    Raises:
        EncoderExportError: ``path`` is not a readable ONNX model.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx.load raises OSError, protobuf's DecodeError and others; name the file either way
        raise EncoderExportError(f"{path} is not a readable ONNX model ({exc})") from exc
    graph = model.graph
    kept, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= FP16_MIN_ELEMENTS:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}.fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=f"{init.name}.to_fp32"))
        else:
            kept.append(init)
    if not casts:
        return path
    nodes = list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    onnx.save(model, str(staging))
    os.replace(staging, path)
    return path


def cpu_session_options(threads: int):
    """ONNX Runtime session options for this project's models on CPU.

    ``threads`` intra-op threads (at least 1), one inter-op thread, every graph optimisation, and
    idle threads that sleep rather than spin (the web workers and Chroma share 2 cores).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _fast_tokenizer(model_dir: Path, max_length: int):
    """The model's ``tokenizer.json`` through the ``tokenizers`` library, as sentence-transformers tokenizes.

    It truncates to ``max_length`` tokens and pads to the longest text of a batch, as
    sentence-transformers does. (Not transformers' AutoTokenizer: importing transformers imports
    torch, which would add ~2.6 s and hundreds of MB to every server start.)

    Raises:
        EncoderExportError: the folder has no ``tokenizer.json`` or no pad token.
    """
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.exists():
        raise EncoderExportError(f"{model_dir}: no tokenizer.json (a fast tokenizer is needed)")
    tokenizer = Tokenizer.from_file(str(path))
    special = model_dir / "special_tokens_map.json"
    pad = json.loads(special.read_text()).get("pad_token") if special.exists() else None
    pad = pad.get("content") if isinstance(pad, dict) else pad
    if pad is None or tokenizer.token_to_id(pad) is None:
        raise EncoderExportError(f"{model_dir}: no pad token in special_tokens_map.json")
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad), pad_token=pad)
    return tokenizer


class OnnxSentenceEncoder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX export of a model.

    Args:
        model_dir: the sentence-transformers folder (tokenizer, pooling config).
        onnx_file: the export made by `export_onnx`.
        threads: ONNX Runtime intra-op threads (≥ 1).

    ``encode(texts)`` returns a float32 array of shape ``(len(texts), dimension)``, rows of
    unit length, like ``SentenceTransformer.encode(..., normalize_embeddings=True)``.
    """

    def __init__(self, model_dir: str | Path, onnx_file: Path, threads: int) -> None:
        """Load the tokenizer and open an ONNX Runtime CPU session on ``onnx_file``.

        Raises:
            EncoderExportError: unsupported pooling, or no ``tokenizer.json`` or pad token.
        """
        import onnxruntime as ort

        model_dir = Path(model_dir)
        _pooling_mode(model_dir)
        self.max_seq_length = _max_seq_length(model_dir)
        self._tokenizer = _fast_tokenizer(model_dir, self.max_seq_length)
        self._session = ort.InferenceSession(str(onnx_file), cpu_session_options(threads), providers=["CPUExecutionProvider"])
        self.dimension = int(self._session.get_outputs()[0].shape[2] or 0) or self._probe_dimension()

    def _probe_dimension(self) -> int:
        return int(self.encode(["dimension probe"]).shape[1])

    def get_embedding_dimension(self) -> int:
        """Length of the vectors (e.g. 384 for all-MiniLM-L6-v2)."""
        return self.dimension

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed ``texts``; batches are sorted by length so padding stays short."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encoded = self._tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[batch] = pooled
        if out is None:
            out = np.empty((0, 0), dtype=np.float32)
        return out
