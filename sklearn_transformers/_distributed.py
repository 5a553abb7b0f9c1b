"""Data-parallel training with ``torch.distributed`` (DistributedDataParallel).

When a fit runs in a process group of more than one process (started by
``torchrun``, ``accelerate launch``, Ray Train's ``TorchTrainer`` or Spark's
``TorchDistributor``, which all call ``torch.distributed.init_process_group``
or let the script call it), every process is given the same training data
and the estimator trains one model together:

- every rank draws the same seed (rank 0's), so all ranks build the same
  model, the same hold-out split and the same global batches each epoch;
- each global batch of ``batch_size`` samples is split across the ranks
  (rank ``r`` takes every ``world_size``-th sample of it, so the length-sorted
  text batches stay balanced);
- the module trains inside ``DistributedDataParallel``, which averages the
  gradients over the ranks in each backward pass, so every rank takes the
  same optimizer step as one process training on the global batch would
  (exactly when the ranks' shares are equal);
- the epoch's training loss and score are averaged over the ranks, so the
  history (and anything watching it) agrees on every rank; the validation
  set for early stopping is not split, so its score agrees too;
- only rank 0 writes files in ``save``.

Nothing here knows the estimators (only skorch's callback interface); the
estimator base calls these helpers at its hooks.
"""

import os

import numpy as np
import torch
from skorch.callbacks import Callback

from ._data import BatchIterator

__all__ = [
    "AverageOverRanks",
    "ShardedBatchIterator",
    "check_same_data",
    "data_parallel",
    "is_main_process",
    "rank_device",
    "shared_seed",
    "world",
]


def world():
    """``(rank, world_size)`` inside a process group of several processes, else None."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return None
    size = dist.get_world_size()
    return (dist.get_rank(), size) if size > 1 else None


def is_main_process():
    """True outside a process group, and on its rank 0."""
    group = world()
    return group is None or group[0] == 0


def shared_seed(seed):
    """Rank 0's ``seed`` on every rank (``seed`` itself outside a group)."""
    if world() is None:
        return seed
    value = [int(seed)]
    torch.distributed.broadcast_object_list(value, src=0)
    return value[0]


def rank_device(device):
    """The device of this rank: ``cuda`` without an index means ``cuda:LOCAL_RANK``.

    Launchers set ``LOCAL_RANK`` to the process's position on its host, one
    GPU per process; a device with an index, or any device outside a group,
    is returned unchanged.
    """
    if world() is None or device.type != "cuda" or device.index is not None:
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"LOCAL_RANK={local_rank} but this host has only "
            f"{torch.cuda.device_count()} CUDA device(s); start one process per GPU."
        )
    return torch.device("cuda", local_rank)


def check_same_data(n_samples, batch_size):
    """Raise ``ValueError`` unless every rank has as many training samples.

    Every rank gathers every rank's count and checks the same things, so all
    ranks raise together rather than some waiting forever for the others.
    """
    group = world()
    if group is None:
        return
    rank, size = group
    counts = [None] * size
    torch.distributed.all_gather_object(counts, int(n_samples))
    differing = [r for r, count in enumerate(counts) if count != counts[0]]
    if differing:
        raise ValueError(
            "Data-parallel fit: every process must be given the same training "
            f"data, but rank 0 has {counts[0]} samples and rank {differing[0]} "
            f"has {counts[differing[0]]}."
        )
    if n_samples < size:
        raise ValueError(
            f"Data-parallel fit over {size} processes needs at least {size} "
            f"training samples; got n_samples={n_samples}."
        )
    if batch_size < size:
        raise ValueError(
            f"batch_size={batch_size} is the global batch, split over the "
            f"{size} processes, so it must be at least {size}."
        )


def data_parallel(module, device):
    """``module`` inside ``DistributedDataParallel`` on ``device``.

    The wrapper broadcasts rank 0's weights when it is made, and averages
    gradients over the ranks during each backward pass.
    """
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    # static_graph: the same parameters take part in every step, and any
    # that never get a gradient (a part only attention_weights uses) are fine.
    return DistributedDataParallel(module, device_ids=device_ids, static_graph=True)


class ShardedBatchIterator(BatchIterator):
    """This rank's share of every global batch of :class:`~._data.BatchIterator`.

    With the same ``seed`` on every rank, the global batches are the same
    everywhere; rank ``r`` takes samples ``r, r + world_size, ...`` of each.
    A global batch smaller than ``world_size`` (the last, short one) is
    joined to the batch before it, so that no rank gets an empty share.
    """

    def __init__(self, dataset, batch_size, *, rank, world_size, **kwargs):
        super().__init__(dataset, batch_size, **kwargs)
        self.rank = rank
        self.world_size = world_size

    def global_batches(self):
        batches = super().batch_indices()
        merged = []
        for batch in batches:
            if len(batch) < self.world_size and merged:
                merged[-1] = np.concatenate([merged[-1], batch])
            else:
                merged.append(batch)
        return merged

    def __len__(self):
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + int(rest >= self.world_size or full == 0)

    def batch_indices(self):
        return [b[self.rank :: self.world_size] for b in self.global_batches()]


class AverageOverRanks(Callback):
    """Replace the epoch's ``train_loss`` and ``train_score`` by their mean over
    the ranks, weighted by the samples each rank trained on."""

    def __init__(self, keys=("train_loss", "train_score")):
        self.keys = keys

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        seen = sum(b.get("train_batch_size", 0) for b in row["batches"])
        keys = [key for key in self.keys if key in row]
        values = torch.tensor(
            [seen, *(row[key] * seen for key in keys)], dtype=torch.float64
        )
        if torch.distributed.get_backend() == "nccl":
            values = values.to(torch.device("cuda", torch.cuda.current_device()))
        torch.distributed.all_reduce(values)
        total = max(values[0].item(), 1.0)
        for key, value in zip(keys, values[1:].tolist(), strict=True):
            net.history.record(key, value / total)
