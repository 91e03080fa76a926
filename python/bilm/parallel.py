"""Work items run a few at a time in worker processes, without the workers fighting for CPUs."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(work: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    """[work(item) for item in items], `jobs` at a time in spawned worker processes, each with
    CPUs / jobs threads so that they do not fight; in this process when jobs is 1. Items are
    drawn only as workers free up, and in workers an item's error is raised once the other
    items are done (so one failed fold does not stop the others). A worker whose parent is
    killed (SIGTERM, SIGKILL) exits within a second rather than train on unattended."""
    if jobs <= 1:
        return [work(item) for item in items]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # a clean process: no inherited threads or locks
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(threads, os.getpid())) as pool:
        futures: list[Future[R]] = []
        for item in items:
            running = [future for future in futures if not future.done()]
            if len(running) >= jobs:
                wait(running, return_when=FIRST_COMPLETED)
            futures.append(pool.submit(work, item))
        return [future.result() for future in futures]


def _start_worker(threads: int, parent: int) -> None:
    torch.set_num_threads(threads)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # An orphaned worker would go on writing into the run folders a restarted command reuses;
    # checkpoints are written to a temporary file and renamed, so exiting mid-epoch loses
    # only that epoch.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
