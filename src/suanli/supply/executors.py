"""Executors that run simulation chunks: ``local`` (threads on this machine) and ``dask``.

Both take a function and a list of arguments and return results in order; since every
block seeds its own stream, the choice of executor never changes the numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from suanli.errors import InputValueError

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs ``fn`` over ``items`` and yields results in the order of ``items``."""

    name: str

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Results of ``fn(item)`` in order."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class LocalExecutor:
    """Threads on this machine: NumPy releases the GIL in the heavy array work."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Results of ``fn(item)`` in order."""
        return self._pool.map(fn, items)

    def close(self) -> None:
        """Stop the threads."""
        self._pool.shutdown()


class DaskExecutor:
    """A Dask cluster: the one at ``scheduler``, or a local cluster started for the run."""

    name = "dask"

    def __init__(self, scheduler: str | None = None) -> None:
        try:
            from dask import distributed as dask_distributed  # noqa: PLC0415 - optional extra
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise InputValueError(
                "needs the dask extra: pip install 'suanli[dask]'", field="--executor"
            ) from exc
        # dask ships incomplete annotations: its objects are handled as Any here.
        distributed: Any = dask_distributed
        self._cluster: Any = None
        self._client: Any
        if scheduler is None:
            self._cluster = distributed.LocalCluster(
                n_workers=os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                # A free loopback port: the default 8787 clashes with any other cluster running.
                dashboard_address="127.0.0.1:0",
            )
            self._client = distributed.Client(self._cluster)
        else:
            self._client = distributed.Client(scheduler)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """Results of ``fn(item)`` in order, computed on the cluster."""
        futures = self._client.map(fn, items, pure=False)
        for future in futures:
            yield future.result()

    def close(self) -> None:
        """Close the client and any cluster started for the run."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def map_chunks(
    fn: Callable[[Any], Sequence[R]],
    chunks: Sequence[Any],
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[R]:
    """The results of ``fn`` over ``chunks``, flattened in order.

    Runs on ``executor``, or on a local one made for the call and closed after it;
    ``progress`` hears how many results each finished chunk gave.
    """
    runner = executor or LocalExecutor()
    results: list[R] = []
    try:
        for part in runner.map(fn, chunks):
            results.extend(part)
            if progress is not None:
                progress(len(part))
    finally:
        if executor is None:
            runner.close()
    return results


def make_executor(name: str, scheduler: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``dask``)."""
    if name == "local":
        if scheduler is not None:
            raise InputValueError("a scheduler address needs --executor dask", field="--scheduler")
        return LocalExecutor()
    if name == "dask":
        return DaskExecutor(scheduler)
    raise InputValueError(f"must be local or dask (got {name!r})", field="--executor")
