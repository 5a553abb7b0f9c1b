"""Test-suite settings.

Torch runs on one thread: two torch threads slow down about 7x when another
process is busy on the same cores (CI, parallel searches), one does not.
"""

import os

# Torch reads MKL_NUM_THREADS before OMP_NUM_THREADS, and joblib's worker
# processes inherit both (or get cores // n_jobs for a variable left unset).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Pretrained backbones come from installed packages; nothing is downloaded.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib  # noqa: E402
import torch  # noqa: E402

matplotlib.use("Agg")
torch.set_num_threads(1)
