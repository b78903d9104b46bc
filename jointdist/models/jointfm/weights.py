"""Saving and loading JointFM weights: ``<name>.pt`` + ``<name>.json`` + ``<name>.sha256``.

``<name>.pt`` holds only the ``state_dict`` (tensors), read back with
``torch.load(..., weights_only=True)``; ``<name>.json`` holds the :class:`JointFMConfig`
the network is built from.  ``<name>.sha256`` is a manifest in the format of
``sha256sum`` (``sha256sum -c <name>.sha256`` checks it too): one line ``<hex digest>
<file name>`` for each of the two files, so that the config -- which decides the
normalization, the default head and the dependence estimate, and so the forecasts -- is
verified like the weights.  Every failure names the file concerned.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.model import JointFM

__all__ = ["DEFAULT_WEIGHTS", "WEIGHTS_DIR", "save_weights", "load_weights", "sha256_file",
           "resolve_checkpoint", "write_manifest"]

#: Folder of the weights shipped inside the package.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Base name of the default checkpoint inside :data:`WEIGHTS_DIR`.
DEFAULT_WEIGHTS = "jointfm_default"


def sha256_file(path) -> str:
    """Hex SHA-256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(checkpoint) -> Path:
    """Write ``<stem>.sha256``: the SHA-256 of ``<stem>.pt`` and of ``<stem>.json``.

    :func:`save_weights` calls it; call it yourself only after checking a config you
    edited by hand (or to upgrade a manifest written before the config was covered).

    Returns
    -------
    Path of the manifest.
    """
    stem = resolve_checkpoint(checkpoint)
    lines = []
    for suffix in (".pt", ".json"):
        f = stem.with_suffix(suffix)
        if not f.is_file():
            raise FileNotFoundError(f"JointFM {_KIND[suffix]} file {f} does not exist.")
        lines.append(f"{sha256_file(f)}  {f.name}\n")
    manifest = stem.with_suffix(".sha256")
    manifest.write_text("".join(lines))
    return manifest


_KIND = {".pt": "weights", ".json": "config", ".sha256": "sha256 manifest"}


def _read_manifest(manifest: Path) -> dict:
    """``{file name: hex digest}`` from a ``sha256sum``-style manifest."""
    entries = {}
    for line in manifest.read_text().splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            entries[parts[1].lstrip("*")] = parts[0].lower()  # "*name": binary mode
    return entries


def _verified_bytes(path: Path, manifest: Path, recorded: dict, stem: Path) -> bytes:
    """The bytes of ``path`` if their SHA-256 is the one ``manifest`` records for it."""
    data = path.read_bytes()
    kind = _KIND[path.suffix]
    if path.name not in recorded:
        extra = ""
        if path.suffix == ".json":
            extra = (" (a manifest written before the config was covered by the hash). If "
                     f"you trust {path.name}, run jointdist.models.jointfm.weights."
                     f"write_manifest({str(stem)!r}) to record it")
        raise ValueError(f"JointFM manifest {manifest} records no SHA-256 for the {kind} "
                         f"file {path.name}{extra}.")
    actual = hashlib.sha256(data).hexdigest()
    if recorded[path.name] != actual:
        raise ValueError(f"JointFM {kind} file {path} is corrupt or was modified: its "
                         f"SHA-256 is {actual} but {manifest} records {recorded[path.name]}.")
    return data


def resolve_checkpoint(checkpoint) -> Path:
    """Path stem (without suffix) of a checkpoint given as "default", a stem or a .pt file."""
    if checkpoint is None or checkpoint == "default":
        return WEIGHTS_DIR / DEFAULT_WEIGHTS
    path = Path(checkpoint)
    if path.is_dir():
        candidates = sorted(path.glob("*.pt"))
        if len(candidates) != 1:
            raise FileNotFoundError(f"checkpoint folder {path} must hold exactly one .pt "
                                    f"file; found {len(candidates)}.")
        path = candidates[0]
    return path.with_suffix("") if path.suffix in (".pt", ".json", ".sha256") else path


def save_weights(model: JointFM, path, *, half: bool = False) -> Path:
    """Write ``<path>.pt``, ``<path>.json`` and the manifest ``<path>.sha256``.

    Parameters
    ----------
    model : JointFM
    path : str or Path
        Stem of the three files (a ``.pt`` suffix is dropped).
    half : bool, default=False
        Store floating tensors as float16 (halves the file; they are cast back to
        float32 when loaded).

    Returns
    -------
    Path of the ``.pt`` file.
    """
    stem = resolve_checkpoint(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else
                 v.detach().cpu()).clone() for k, v in model.state_dict().items()}
    pt = stem.with_suffix(".pt")
    tmp = pt.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    tmp.replace(pt)
    model.config.to_json(stem.with_suffix(".json"))
    write_manifest(stem)
    return pt


def load_weights(checkpoint="default", *, device="cpu", verify: bool = True) -> JointFM:
    """Build a :class:`JointFM` from its config and verified weights.

    Parameters
    ----------
    checkpoint : "default", str or Path
        "default" (the weights shipped in the package), a stem, a ``.pt`` file or a
        folder holding one.
    device : str or torch.device, default="cpu"
    verify : bool, default=True
        Check the SHA-256 of both the weights and the config against the manifest
        ``<stem>.sha256`` before using them.

    Raises
    ------
    FileNotFoundError
        If the weights, config or manifest file is missing (the message names it).
    ValueError
        If a hash does not match (corrupt or modified file) or the manifest does not
        cover both files, or the config has an invalid value, or the weights cannot be
        read as a weights-only checkpoint, or they do not fit the config.
    """
    stem = resolve_checkpoint(checkpoint)
    pt, js, sh = (stem.with_suffix(s) for s in (".pt", ".json", ".sha256"))
    for f in (pt, js, sh):
        if not f.is_file():
            raise FileNotFoundError(f"JointFM {_KIND[f.suffix]} file {f} does not exist.")
    # hash and parse the same bytes (no window for the files to change in between)
    if verify:
        recorded = _read_manifest(sh)
        weights_bytes = _verified_bytes(pt, sh, recorded, stem)
        config_bytes = _verified_bytes(js, sh, recorded, stem)
    else:
        weights_bytes, config_bytes = pt.read_bytes(), js.read_bytes()
    try:
        config = JointFMConfig.from_dict(json.loads(config_bytes))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"JointFM config file {js} is not valid JSON ({exc}).") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(f"JointFM config file {js}: {exc}") from exc
    try:
        state = torch.load(io.BytesIO(weights_bytes), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, disallowed globals
        raise ValueError(f"JointFM weights file {pt} could not be loaded as a weights-only "
                         f"checkpoint ({type(exc).__name__}: {exc}).") from exc
    model = JointFM(config)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in state.items()})
    except (RuntimeError, AttributeError) as exc:
        raise ValueError(f"JointFM weights file {pt} does not match its config {js} "
                         f"({exc}).") from exc
    return model.to(device).eval()
