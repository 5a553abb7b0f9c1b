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
import pytest  # noqa: E402
import torch  # noqa: E402

matplotlib.use("Agg")
torch.set_num_threads(1)

# Thread variables that the Dask fixture leaves unset for the nannies to set.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@pytest.fixture(scope="module")
def dask_client():
    """A Dask ``LocalCluster`` of two one-thread worker processes (one per test
    module that asks for it), started without thread variables set, so that their
    thread count is the one dask's nanny gives them.

    The nannies run in this process and write their workers' variables
    (thread counts, ``PYTHONHASHSEED``) into its environment; the fixture
    puts the environment back as it was for the tests that follow.
    """
    distributed = pytest.importorskip("distributed")
    environment = dict(os.environ)
    for name in THREAD_VARIABLES:
        os.environ.pop(name, None)
    try:
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    finally:
        os.environ.clear()
        os.environ.update(environment)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
