"""The Dask cluster under scaleout.py: starting it and running tasks on it.

What can go wrong there is one line naming what failed, and never a hang: a
LocalCluster that cannot start gives up within START_S seconds (a worker killed
as it starts, a port taken); tasks whose worker dies are run again by another
(the nannies start new workers) until one has killed
`distributed.scheduler.allowed-failures` + 1 workers, and tasks with no worker
alive for WORKERLESS_S seconds end the run. Nothing is scattered: a scatter
whose worker is killed as it copies hung the run (`Client.scatter`'s timeout
does not cover the copy), so data goes to the workers in the task graph or in
files beside the output. A LocalCluster's worker processes
end with it, and with this process (multiprocessing watches the parent).
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any, Iterator

from distributed import CancelledError, Client, LocalCluster, wait
from distributed.scheduler import KilledWorker

from risk.errors import StepError

log = logging.getLogger("scaleout")

LOCAL_WORKERS = 2
LOCAL_MEMORY = "1GB"  # per worker: Dask spills and pauses below it
START_S = 60  # seconds a cluster may take to start or answer, and data to reach its workers
WORKERLESS_S = 60  # seconds tasks may wait with no worker alive before the run gives up
POLL_S = 2  # seconds between those checks


class ScaleoutError(StepError):
    """The Dask cluster is unreachable or a task failed."""


@contextlib.contextmanager
def cluster(address: str) -> Iterator[Client]:
    """A client of the configured scheduler, or of a LocalCluster started for the while.

    A cluster that cannot start (a worker killed as it starts, a scheduler that
    does not answer) is one line naming what failed, within START_S seconds; a
    LocalCluster's worker processes end with it, and with this process.
    """
    with contextlib.ExitStack() as stack:
        try:
            if address == "local":
                # Quiet workers: a failed task reaches the user as one line, from here (disk_errors).
                # An HTTP port of its own on loopback (the default, 8787, warns when taken);
                # a nanny whose worker does not start within START_S gives up.
                local = LocalCluster(
                    n_workers=LOCAL_WORKERS, threads_per_worker=1, memory_limit=LOCAL_MEMORY,
                    dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL, death_timeout=START_S)
                stack.callback(local.close, timeout=START_S)
                client = stack.enter_context(Client(local, timeout=START_S))
            else:
                client = stack.enter_context(Client(address, timeout="10s"))
        except (OSError, RuntimeError) as exc:  # OSError: unreachable, timed out; RuntimeError: a worker died
            what = "starting a local Dask cluster" if address == "local" else \
                f"Dask scheduler {address} (key 'dask_scheduler')"
            raise ScaleoutError(f"{what}: {_reason(exc)}") from None
        yield client


def _reason(exc: BaseException) -> str:
    """`exc` and its first cause in words ("Nanny failed to start (Nanny failed to start worker process)")."""
    said = [str(e).rstrip(".") or type(e).__name__ for e in dict.fromkeys((exc, _first_cause(exc)))]
    return said[0] if len(said) == 1 else f"{said[0]} ({said[1]})"


def _first_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def run(client: Client, tasks: list[Any], what: str) -> list[Any]:
    """Compute `tasks` on the cluster and return their results, in order.

    Workers killed while tasks run are replaced (a LocalCluster's nannies restart
    them; the scheduler runs their tasks again); a task that killed
    `distributed.scheduler.allowed-failures` workers, or no worker alive for
    WORKERLESS_S seconds, ends the run with one line naming `what`.
    """
    futures = client.compute(tasks)
    alone_since: float | None = None
    try:
        while True:
            try:
                wait(futures, timeout=POLL_S)
                break
            except TimeoutError:  # still running: are there workers to run it?
                if client.nthreads():
                    alone_since = None
                elif alone_since is None:
                    alone_since = time.monotonic()
                elif time.monotonic() - alone_since > WORKERLESS_S:
                    raise ScaleoutError(f"{what}: no Dask worker alive for {WORKERLESS_S} s") from None
        return client.gather(futures)
    except KilledWorker as exc:
        raise ScaleoutError(f"{what}: a task's Dask worker died {exc.allowed_failures + 1} times "
                            "(killed, or out of memory); see the log of the workers") from None
    except CancelledError as exc:  # e.g. a worker died holding the only copy of data they need
        raise ScaleoutError(f"{what}: Dask cancelled the tasks ({getattr(exc, 'reason', None) or 'no reason given'}); "
                            "a worker may have died holding data they need: run again") from None
    finally:
        client.cancel([f for f in futures if not f.done()])


@contextlib.contextmanager
def disk_errors(what: str) -> Iterator[None]:
    """An OSError of a task (a full or read-only disk, an input gone) as one line naming `what`."""
    try:
        yield
    except OSError as exc:
        raise ScaleoutError(f"{what}: {os.strerror(exc.errno) if exc.errno else exc}") from None


def workers(client: Client) -> int:
    """How many workers the cluster has (one at least: a part count divides by it)."""
    return max(1, len(client.scheduler_info().get("workers", {})))
