"""Thread settings of the benchmarks, applied before numpy and torch load.

Import this module before numpy, scipy or torch. It reads ``--threads N``
from the command line (default 1) and sets ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` to ``N``, overriding the
environment, so that torch, numpy and scikit-learn all use the thread count
recorded with the results. The scripts then call ``torch.set_num_threads(N)``.

One thread is the default because two torch threads run about 7x slower when
another busy process shares two cores, while one thread is unaffected: with
one thread, timings on a shared machine stay comparable.
"""

import os
import sys

__all__ = ["THREADS", "requested_threads"]

_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def requested_threads(argv=None):
    """The ``--threads`` value in ``argv`` (default ``sys.argv``), or 1."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


THREADS = requested_threads()
for _name in _VARIABLES:
    os.environ[_name] = str(THREADS)
