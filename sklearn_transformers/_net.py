"""The skorch net that trains an estimator's module, one per fit call.

:class:`NetMixin` builds the :class:`skorch.NeuralNet` of a ``fit`` or
``partial_fit`` call with every skorch default set explicitly: the criterion
(sample-weighted when weights are given), AdamW, the batch iterators (sharded
inside a ``torch.distributed`` process group), and the callbacks (per-epoch
scores, heap trims, the cosine schedule, early stopping, the progress bar,
the user's own). It also wraps the module for training (autocast,
``DistributedDataParallel``) and carries the history and optimizer state of
earlier calls into a continued fit.
"""

import copy

import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import Dataset as SkorchDataset
from skorch.helper import predefined_split
from skorch.utils import noop
from torch.optim.lr_scheduler import CosineAnnealingLR

from . import _distributed
from ._callbacks import EpochScore, PlainPrintLog, TrimHeap
from ._data import BatchIterator
from ._losses import SampleWeightedLoss
from ._modules import Autocast

__all__ = ["NetMixin"]


class NetMixin:
    """Building the skorch net of :class:`~._base.AttentionEstimatorBase`."""

    def _for_training(self, module, plan):
        """``module`` as the training loop runs it (under autocast if asked;
        in ``DistributedDataParallel`` inside a process group)."""
        if self.precision == "bfloat16":
            module = Autocast(module, plan.device.type, torch.bfloat16)
        if _distributed.world() is not None:
            module = _distributed.data_parallel(module, plan.device)
        return module

    def _continue_training(self, net, plan):
        """Carry the history and optimizer state of earlier calls into ``net``."""
        net.history = self.history_
        state = self._optimizer_state()
        if state is not None:
            net.optimizer_.load_state_dict(state)
        # load_state_dict brings back the saved settings: use this call's,
        # and restart the schedule from this lr.
        for group in net.optimizer_.param_groups:
            group.update(lr=plan.lr, initial_lr=plan.lr, weight_decay=self.weight_decay)

    def _make_net(self, module, data, valid, plan):
        """The skorch net for one call, with every skorch default set explicitly."""
        criterion, criterion_kwargs = self._criterion(data)
        if data.w is not None:
            criterion_kwargs = {"loss": criterion, **criterion_kwargs}
            criterion = SampleWeightedLoss
        device = plan.device
        iterator_train, sharding = BatchIterator, {}
        if (group := _distributed.world()) is not None:
            iterator_train = _distributed.ShardedBatchIterator
            sharding = {
                "iterator_train__rank": group[0],
                "iterator_train__world_size": group[1],
            }
        return NeuralNet(
            module=module,
            criterion=criterion,
            optimizer=torch.optim.AdamW,
            lr=plan.lr,
            max_epochs=plan.epochs,
            batch_size=self.batch_size,
            iterator_train=iterator_train,
            iterator_valid=BatchIterator,
            dataset=SkorchDataset,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=self._callbacks(data, valid, plan),
            callbacks__print_log=PlainPrintLog(),
            predict_nonlinearity=None,
            warm_start=False,
            verbose=int(bool(self.verbose)),
            device=device,
            compile=False,
            use_caching="auto",
            optimizer__weight_decay=self.weight_decay,
            # One fused kernel for the whole update: a tenth of a CPU epoch.
            optimizer__fused=device.type in ("cpu", "cuda"),
            iterator_train__shuffle=True,
            iterator_train__seed=plan.seed,
            iterator_train__device=device,
            iterator_valid__shuffle=False,
            iterator_valid__device=device,
            **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
            **sharding,
        )

    def _callbacks(self, data, valid, plan):
        """This call's skorch callbacks: scores, heap trims, schedule, stopping."""
        callbacks = [
            ("epoch_score", EpochScore(type(self)._score)),
            ("trim_heap", TrimHeap()),
        ]
        if _distributed.world() is not None:
            callbacks.append(("average_over_ranks", _distributed.AverageOverRanks()))
        if self.lr_schedule == "cosine" and not plan.partial:
            steps = plan.epochs * -(-len(data) // self.batch_size)
            scheduler = LRScheduler(
                policy=CosineAnnealingLR,
                T_max=steps,
                step_every="batch",
                last_epoch=-1,  # each fit decays anew, also warm ones
            )
            callbacks.append(("lr_schedule", scheduler))
        if valid is not None and self.early_stopping:
            callbacks.append(("early_stopping", self._early_stopping()))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar(batches_per_epoch="auto")))
        callbacks.extend(copy.deepcopy(list(self.callbacks or [])))
        return callbacks

    def _early_stopping(self):
        """skorch's EarlyStopping on the validation score or loss."""
        on_score = self.early_stopping_metric == "score"
        return EarlyStopping(
            monitor="valid_score" if on_score else "valid_loss",
            patience=self.n_iter_no_change,
            # As MLPClassifier's tol: an absolute gain for scores (R^2 can be
            # negative), a relative one for losses.
            threshold=1e-4,
            threshold_mode="abs" if on_score else "rel",
            lower_is_better=not on_score,
            load_best=True,
            sink=print if self.verbose else noop,
        )

    def _optimizer_state(self):
        """The optimizer's ``state_dict()`` to continue from, or None."""
        if hasattr(self, "net_"):
            return self.net_.optimizer_.state_dict()
        return getattr(self, "_loaded_optimizer_state", None)
