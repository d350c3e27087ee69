"""Where a batch runs: the embedded LocalCluster, an existing scheduler, or a given client.

The embedded cluster runs worker processes with one thread each (one study in memory per
worker) and a memory limit per worker, so that a huge study costs that case, not the machine;
every socket listens on 127.0.0.1 (the scheduler, and the dashboard on a random port). An
existing cluster is used unchanged. Dask is imported only inside these functions.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from annulusview import __version__
from annulusview.core.errors import InputError

if TYPE_CHECKING:
    from distributed import Client

#: Memory assumed for one study in a worker when choosing how many workers fit (bytes).
STUDY_MEMORY_BYTES = 2 * 2**30
#: Share of the machine's memory the embedded cluster's workers may use together.
MEMORY_SHARE = 0.8
CONNECT_TIMEOUT_S = 10.0
WORKER_WAIT_S = 60.0


@dataclass(frozen=True)
class ClusterInfo:
    """The cluster a batch runs on."""

    description: str
    address: str
    dashboard_link: str | None
    local: bool
    memory_per_worker: int | None = None


def default_workers(cases: int) -> int:
    """Workers for the embedded cluster: one per core, as many as the memory holds
    (:data:`STUDY_MEMORY_BYTES` each), no more than there are cases."""
    from distributed.system import MEMORY_LIMIT

    by_memory = int(MEMORY_LIMIT * MEMORY_SHARE // STUDY_MEMORY_BYTES)
    return max(1, min(os.cpu_count() or 1, by_memory, cases))


def parse_memory(value: str | int | None, workers: int) -> int:
    """Each embedded worker's memory limit in bytes: ``value`` (bytes or e.g. ``"4GB"``), or
    the machine's memory x :data:`MEMORY_SHARE` shared among ``workers``."""
    from dask.utils import parse_bytes
    from distributed.system import MEMORY_LIMIT

    if value is None:
        return int(MEMORY_LIMIT * MEMORY_SHARE / workers)
    try:
        limit = int(parse_bytes(value)) if isinstance(value, str) else int(value)
    except (ValueError, TypeError):
        raise InputError(
            f"Memory per worker {value!r} is not a size.", "Give bytes or e.g. 4GB, 1500MiB."
        ) from None
    if limit < 256 * 2**20:
        raise InputError(f"Memory per worker {value!r} is too small.", "Give at least 256MB.")
    return limit


@contextlib.contextmanager
def dask_logs(quiet: bool) -> Iterator[None]:
    """Hold Dask's own log messages (worker restarts, closed connections) while quiet: the
    batch reports each case's outcome itself."""
    if not quiet:
        yield
        return
    dask_logger = logging.getLogger("distributed")
    before = dask_logger.level
    dask_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        dask_logger.setLevel(before)


@contextlib.contextmanager
def local_cluster(
    workers: int, memory_per_worker: int, quiet: bool
) -> Iterator[tuple[Client, ClusterInfo]]:
    import dask
    from dask.utils import format_bytes
    from distributed import Client, LocalCluster

    from annulusview.batch._worker import IgnoreInterrupt

    settings = {
        # A dead worker fails its case at once (KilledWorker), not after three retries.
        "distributed.scheduler.allowed-failures": 0,
        # Each worker holds one task at a time, so a death takes only the case it ran.
        "distributed.scheduler.worker-saturation": 1.0,
        # Results are small and nothing is kept on the workers: no spilling or pausing (a
        # paused worker would hold the batch); the nanny restarts a worker at 95 % of its
        # limit, which fails that case.
        "distributed.worker.memory.target": False,
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": 0.95,
        # Workers stay daemonic: the loader then decodes compressed series in the worker's
        # own process (one study per core already; a pool per worker would oversubscribe).
        # Dask's default MALLOC_TRIM_THRESHOLD_ turns off glibc's adaptive mmap threshold:
        # every large numpy array is then a fresh mmap, ~12 % slower analyses. A study's
        # arrays are freed when its task ends; the one-thread numeric libraries stay.
        "distributed.nanny.pre-spawn-environ": {
            "OMP_NUM_THREADS": 1,
            "MKL_NUM_THREADS": 1,
            "OPENBLAS_NUM_THREADS": 1,
        },
        # The statistical profiler samples every task's stack every 10 ms (for dashboard
        # pages this batch does not need).
        "distributed.worker.profile.enabled": False,
    }
    with dask.config.set(settings):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_per_worker,
            host="127.0.0.1",
            # Left at its default (":8787"), the dashboard listens on every interface.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL if quiet else logging.WARNING,
        )
    client = None
    try:
        client = Client(cluster, set_as_default=False)
        client.register_plugin(IgnoreInterrupt(), name="annulusview-ignore-sigint")
        info = ClusterInfo(
            description=(
                f"embedded local cluster: {workers} worker process(es) x 1 thread, "
                f"{format_bytes(memory_per_worker)} memory limit each"
            ),
            address=str(cluster.scheduler_address),
            dashboard_link=dashboard_link(client),
            local=True,
            memory_per_worker=memory_per_worker,
        )
        yield client, info
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        with contextlib.suppress(Exception):
            cluster.close()


@contextlib.contextmanager
def remote_cluster(address: str) -> Iterator[tuple[Client, ClusterInfo]]:
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address
        raise InputError(
            f"Could not connect to the Dask scheduler at {address} ({type(exc).__name__}: "
            f"{str(exc)[:160]}).",
            "Check that it runs and the address (e.g. tcp://host:8786).",
        ) from None
    try:
        check_workers(client, address)
        yield (
            client,
            ClusterInfo(
                description=f"Dask scheduler at {address}",
                address=address,
                dashboard_link=dashboard_link(client),
                local=False,
            ),
        )
    finally:
        with contextlib.suppress(Exception):
            client.close()


def check_workers(client: Client, address: str) -> None:
    """Refuse a cluster with no workers, or whose workers run another annulusview."""
    from annulusview.batch._worker import annulusview_version

    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        raise InputError(
            f"The Dask scheduler at {address} has no workers.",
            "Start workers (dask worker ADDRESS) where annulusview is installed.",
        ) from None
    try:
        versions = client.run(annulusview_version)
    except Exception as exc:
        raise InputError(
            f"The workers at {address} cannot run AnnulusView ({type(exc).__name__}: "
            f"{str(exc)[:160]}).",
            f"Install annulusview {__version__} on every worker.",
        ) from None
    other = sorted({v for v in versions.values() if v != __version__})
    if other:
        raise InputError(
            f"Workers at {address} run annulusview {', '.join(other)}; this is {__version__}.",
            f"Install annulusview {__version__} on every worker.",
        )


def dashboard_link(client: Client) -> str | None:
    try:
        link = client.dashboard_link
    except Exception:
        return None
    return str(link) if link else None


def given_client(client: Client) -> ClusterInfo:
    address = str(getattr(client.scheduler, "address", ""))
    return ClusterInfo(
        description=f"the given Dask client ({address})",
        address=address,
        dashboard_link=dashboard_link(client),
        local=False,
    )


def thread_count(client: Client) -> int:
    try:
        return int(sum(client.nthreads().values()))
    except Exception:
        return 0
