"""The Dask client a map job runs on: a local cluster sized to the machine, or an existing scheduler.

Workers are processes (one thread each): decoding, SIFT and remapping hold the GIL often enough that
threads would serialise. A remote cluster (``--scheduler tcp://HOST:8786``) must have skyscan
installed and see the photo folder and the work folder at the same paths (a shared filesystem),
because tasks carry file names, not image bytes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

from skyscan.errors import InputError

__all__ = ["dask_client", "gather_as_completed"]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """Yield a ``distributed.Client``; the local cluster (if any) is closed on exit."""
    from distributed import Client, LocalCluster

    # Worker start-up chatter and "event loop was unresponsive" notes are noise for a CLI user.
    for name in ("distributed", "distributed.worker", "distributed.nanny", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler:
        try:
            client = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; check the address "
                             "(tcp://HOST:8786) or leave out --scheduler to run locally") from None  # fmt: skip
        try:
            yield client
        finally:
            client.close()
        return
    # The scheduler's HTTP (metrics) server falls back to a random port when 8787 is taken (another
    # Dask job on the machine): harmless, so not worth a warning on the user's screen.
    warnings.filterwarnings("ignore", message="Port 8787 is already in use", category=UserWarning)
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise InputError(f"--workers must be at least 1, got {n}")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)  # fmt: skip
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def gather_as_completed(futures, stage: str, progress) -> Iterator:
    """Results of ``futures`` in completion order, calling ``progress(stage, done, total)``; each future
    is released once read, so finished results do not pile up in the workers' memory."""
    from distributed import as_completed

    total = len(futures)
    progress(stage, 0, total)
    for done, fut in enumerate(as_completed(futures), start=1):
        yield fut.result()
        fut.release()
        progress(stage, done, total)
