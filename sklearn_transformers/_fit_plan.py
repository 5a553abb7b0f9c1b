"""What a fit resolves before any work: the device, the seed, the plan.

:func:`resolve_device` turns the ``device`` parameter into an available
``torch.device``; :func:`_seeded` seeds torch inside a forked RNG state;
:func:`_plain` makes path parameters compare and save as strings; and
:class:`FitPlan` holds what one ``fit`` or ``partial_fit`` call does, with
every ``"auto"`` value resolved (built by ``AttentionEstimatorBase._plan``).
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch

__all__ = ["FitPlan", "resolve_device"]


def resolve_device(device):
    """Turn the ``device`` parameter into an available ``torch.device``.

    Raises
    ------
    ValueError
        If ``device`` is not a device name torch knows, or names a device
        this machine does not have.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid device; use 'cpu', 'cuda', "
            "'cuda:N', 'mps' or 'auto'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but this machine has only "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} was requested but MPS is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
    elif resolved.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported; use 'cpu', 'cuda', 'cuda:N', "
            "'mps' or 'auto'."
        )
    return resolved


def _plain(value):
    """A path parameter as its string, so that it compares and saves as data."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


@contextmanager
def _seeded(seed, device):
    """Seed torch inside a forked RNG state, leaving the caller's state as it was."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@dataclass(frozen=True)
class FitPlan:
    """What one ``fit`` or ``partial_fit`` call does, resolved before any work.

    Attributes
    ----------
    continuing : bool
        Keep the fitted encoders, module, optimizer state and history
        (``warm_start`` and ``partial_fit`` after a first fit).
    partial : bool
        A ``partial_fit`` call: no early stopping, no learning-rate schedule.
    epochs : int
        Epochs to run now (1 for ``partial_fit``).
    max_epochs : int
        ``max_epochs`` with "auto" resolved.
    lr : float
        ``lr`` with "auto" resolved.
    device : torch.device
        The resolved, available ``device``.
    seed : int
        Seed of this call's weights, dropout, shuffling and split.
    holdout : bool
        Hold out ``validation_fraction`` for early stopping or for
        ``_after_training`` (not in ``partial_fit``).
    """

    continuing: bool
    partial: bool
    epochs: int
    max_epochs: int
    lr: float
    device: torch.device
    seed: int
    holdout: bool
