"""Saving and loading JointFM weights: ``<name>.pt`` + ``<name>.json`` + ``<name>.sha256``.

``<name>.pt`` holds only the ``state_dict`` (tensors), read back with
``torch.load(..., weights_only=True)`` after its SHA-256 has been checked against
``<name>.sha256``; ``<name>.json`` holds the :class:`JointFMConfig` the network is built
from.  Every failure names the file concerned.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from jointdist.models.jointfm.config import JointFMConfig
from jointdist.models.jointfm.model import JointFM

__all__ = ["DEFAULT_WEIGHTS", "WEIGHTS_DIR", "save_weights", "load_weights", "sha256_file",
           "resolve_checkpoint"]

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
    """Write ``<path>.pt``, ``<path>.json`` and ``<path>.sha256``.

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
    stem.with_suffix(".sha256").write_text(f"{sha256_file(pt)}  {pt.name}\n")
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
        Check the SHA-256 recorded in ``<stem>.sha256`` before loading.

    Raises
    ------
    FileNotFoundError
        If the weights, config or hash file is missing (the message names it).
    ValueError
        If the hash does not match (corrupt or tampered file), or the file cannot be
        read as a weights-only checkpoint, or it does not fit the config.
    """
    stem = resolve_checkpoint(checkpoint)
    pt, js, sh = (stem.with_suffix(s) for s in (".pt", ".json", ".sha256"))
    for f, what in ((pt, "weights"), (js, "config"), (sh, "sha256")):
        if not f.is_file():
            raise FileNotFoundError(f"JointFM {what} file {f} does not exist.")
    if verify:
        recorded = sh.read_text().split()
        actual = sha256_file(pt)
        if not recorded or recorded[0].lower() != actual:
            raise ValueError(f"JointFM weights file {pt} is corrupt or was modified: its "
                             f"SHA-256 is {actual} but {sh} records "
                             f"{recorded[0] if recorded else 'nothing'}.")
    config = JointFMConfig.from_json(js)
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
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
