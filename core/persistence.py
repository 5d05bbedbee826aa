"""Save and load fitted generators without unpickling arbitrary objects.

A saved generator is a directory with ``metadata.json`` (JSON only) and ``weights.pt``, a flat
``{name: tensor}`` mapping written by ``torch.save`` and read back with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.
numpy arrays are stored as tensors and come back as tensors (``.numpy()`` restores them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from privgate.errors import N_, InputError

FORMAT_VERSION = 1
METADATA = "metadata.json"
WEIGHTS = "weights.pt"


def save_state(path: Path, metadata: dict[str, Any], arrays: dict[str, Any]) -> Path:
    """Write ``metadata`` (JSON) and ``arrays`` (tensors or numpy arrays) under ``path``."""
    import torch

    path.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, Any] = {}
    for key, value in arrays.items():
        if isinstance(value, np.ndarray):
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, torch.Tensor):
            tensors[key] = value.detach().cpu().clone()
        else:
            raise TypeError(f"array {key!r}: expected a tensor or numpy array, got "
                            f"{type(value).__name__}")
    torch.save(tensors, path / WEIGHTS)
    doc = {"format_version": FORMAT_VERSION, **metadata}
    (path / METADATA).write_text(json.dumps(doc, indent=2, sort_keys=True, default=_json_default),
                                 encoding="utf-8")
    return path


def load_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read what :func:`save_state` wrote; raises :class:`InputError` naming the file."""
    import torch

    meta_file, weights_file = path / METADATA, path / WEIGHTS
    for f in (meta_file, weights_file):
        if not f.is_file():
            raise InputError(N_("%(path)s: not found; point to a directory written by "
                                "Generator.save()"), path=f)
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(N_("%(meta_file)s: not valid JSON (%(exc)s)"),
                         meta_file=meta_file, exc=exc) from exc
    if metadata.get("format_version") != FORMAT_VERSION:
        raise InputError(N_("%(meta_file)s: format_version %(found)r is not %(format_version)s"),
                         meta_file=meta_file, found=metadata.get('format_version'),
                         format_version=FORMAT_VERSION)
    try:
        arrays = torch.load(weights_file, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise InputError(N_("%(weights_file)s: cannot be read as tensors (%(exc)s)"),
                         weights_file=weights_file, exc=exc) from exc
    return metadata, dict(arrays)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
