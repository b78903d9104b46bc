"""Choice of the torch device for the neural models and the torch-backed simulators."""

from __future__ import annotations

__all__ = ["resolve_device"]


def resolve_device(device="auto"):
    """Return the :class:`torch.device` a model should run on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device, default="auto"
        ``"auto"`` picks the first CUDA device when ``torch.cuda.is_available()``, else
        the CPU.  Any other value is passed to :class:`torch.device`; asking for CUDA on
        a machine without it raises a ``ValueError`` instead of failing later.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; "
                         f"got {device!r}.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; "
                         "use device='auto' or 'cpu'.")
    if resolved.type == "mps" and not (hasattr(torch.backends, "mps")
                                       and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return resolved
