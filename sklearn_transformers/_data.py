"""Training data kept as whole arrays, and batches sliced from them.

skorch's default path indexes a ``Dataset`` one sample at a time and collates
the samples into a batch, which costs more than a small model's forward pass.
Here a data set holds its arrays whole and builds each mini-batch with one
vectorised gather; :class:`BatchIterator` plays the part of skorch's
``DataLoader`` (skorch accepts any iterator class with ``batch_size``).

With sample weights ``w``, a batch's target is the pair ``(y, w)``, which
:class:`~._losses.SampleWeightedLoss` and the per-epoch scores unpack.
"""

import copy

import numpy as np
import torch

__all__ = ["BatchIterator", "DenseData", "RaggedTokens"]


def _as_weights(w):
    return None if w is None else torch.as_tensor(w, dtype=torch.float32)


def _targets(y, w, idx):
    """The targets of samples ``idx``: ``y[idx]``, or ``(y[idx], w[idx])``."""
    if y is None:
        return None
    return y[idx] if w is None else (y[idx], w[idx])


class DenseData(torch.utils.data.Dataset):
    """Equal-shaped samples ``X (n, ...)``, optional targets ``y (n, ...)``
    and sample weights ``w (n,)``."""

    lengths = None

    def __init__(self, X, y=None, w=None):
        self.X = torch.as_tensor(X)
        self.y = None if y is None else torch.as_tensor(y)
        self.w = _as_weights(w)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.batch(np.asarray([i]))

    def subset(self, idx):
        def part(values):
            return None if values is None else values[idx]

        return DenseData(self.X[idx], part(self.y), part(self.w))

    def batch(self, idx):
        """Return ``(X[idx], targets)``; see :func:`_targets` (may be None)."""
        idx = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        return self.X[idx], _targets(self.y, self.w, idx)


class RaggedTokens(torch.utils.data.Dataset):
    """Token-id sequences of uneven length, stored flat.

    Parameters
    ----------
    ids : ndarray of shape (n_tokens,)
        All documents' token ids, one after another.
    offsets : ndarray of shape (n_documents + 1,)
        Document ``i`` is ``ids[offsets[i]:offsets[i + 1]]``.
    y : ndarray of shape (n_documents,), default=None
        Targets.
    pad_id : int, default=0
        Id written into the padding of a batch.
    w : ndarray of shape (n_documents,), default=None
        Sample weights.
    """

    def __init__(self, ids, offsets, y=None, pad_id=0, w=None):
        self.ids = np.asarray(ids)
        offsets = np.asarray(offsets, dtype=np.int64)
        self.starts = offsets[:-1]
        self.lengths = np.diff(offsets)
        self.y = None if y is None else torch.as_tensor(y)
        self.pad_id = pad_id
        self.w = _as_weights(w)

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        return self.batch(np.asarray([i]))

    def document(self, i):
        """Token ids of document ``i``."""
        return self.ids[self.starts[i] : self.starts[i] + self.lengths[i]]

    def flat(self):
        """All documents' token ids one after another, and their offsets
        (a gather of this set's documents, in order, for a subset too)."""
        ids = self.ids[_ragged_positions(self.starts, self.lengths)]
        return ids, np.concatenate([[0], np.cumsum(self.lengths)])

    def subset(self, idx):
        """The documents ``idx``, sharing this set's ``ids`` (no copy of the tokens)."""
        idx = np.asarray(idx, dtype=np.int64)
        part = copy.copy(self)
        part.starts = self.starts[idx]
        part.lengths = self.lengths[idx]
        rows = torch.from_numpy(idx)
        part.y = None if self.y is None else self.y[rows]
        part.w = None if self.w is None else self.w[rows]
        return part

    def batch(self, idx):
        """Return ``(tokens, y)``: ``tokens`` is ``(len(idx), longest)`` int64,
        padded with ``pad_id`` to the longest document of this batch only."""
        idx = np.asarray(idx, dtype=np.int64)
        lengths = self.lengths[idx]
        width = int(lengths.max()) if len(idx) else 0
        keep = np.arange(width)[None, :] < lengths[:, None]  # (B, width)
        tokens = np.full((len(idx), width), self.pad_id, dtype=np.int64)
        tokens[keep] = self.ids[_ragged_positions(self.starts[idx], lengths)]
        return torch.from_numpy(tokens), _targets(self.y, self.w, torch.from_numpy(idx))


def _ragged_positions(starts, lengths):
    """Flat positions ``starts[i] + arange(lengths[i])`` for every ``i``, in order."""
    total = int(lengths.sum())
    row_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(total) - row_start)


class BatchIterator:
    """Iterate over mini-batches of a :class:`DenseData` or :class:`RaggedTokens`.

    Parameters
    ----------
    dataset : DenseData or RaggedTokens
    batch_size : int
    shuffle : bool, default=False
        Draw a new order every pass (training).
    seed : int, default=None
        Seed of the shuffling.
    bucket_size : int, default=50
        For data with lengths: batches are formed from pools of
        ``bucket_size * batch_size`` samples sorted by length, so a batch holds
        documents of similar length and needs little padding. Without
        ``shuffle`` the whole set is sorted by length. The order of the
        batches is shuffled again when ``shuffle`` is True.
    device : torch.device or str, default=None
        Where batches are sent. For a CUDA device each batch is gathered into
        pinned (page-locked) memory and copied without blocking, so the copy
        overlaps the GPU's work on the previous batch. None leaves batches on
        the CPU (the training loop then moves them).
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle=False,
        seed=None,
        bucket_size=50,
        device=None,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.bucket_size = bucket_size
        self.device = None if device is None else torch.device(device)
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def batch_indices(self):
        """The index arrays of one pass, one per batch."""
        n = len(self.dataset)
        lengths = self.dataset.lengths
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        if lengths is not None:
            if self.shuffle:
                pool = self.batch_size * self.bucket_size
                order = np.concatenate(
                    [
                        chunk[np.argsort(lengths[chunk], kind="stable")]
                        for chunk in np.array_split(order, range(pool, n, pool))
                    ]
                    or [order]
                )
            else:
                order = np.argsort(lengths, kind="stable")
        batches = np.array_split(order, range(self.batch_size, n, self.batch_size))
        if self.shuffle and lengths is not None:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        return [b for b in batches if len(b)]

    def batch(self, idx):
        """The batch of samples ``idx``, ``(X, y)``, on ``device``."""
        return tuple(map(self._to_device, self.dataset.batch(idx)))

    def _to_device(self, tensor):
        if isinstance(tensor, tuple):  # targets and sample weights
            return tuple(map(self._to_device, tensor))
        if tensor is None or self.device is None:
            return tensor
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def __iter__(self):
        for idx in self.batch_indices():
            yield self.batch(idx)
