"""Work items run a few at a time in worker processes, without the workers fighting for CPUs."""

from __future__ import annotations

import multiprocessing
import os
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
    items are done (so one failed fold does not stop the others)."""
    if jobs <= 1:
        return [work(item) for item in items]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # a clean process: no inherited threads or locks
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=torch.set_num_threads,
                             initargs=(threads,)) as pool:
        futures: list[Future[R]] = []
        for item in items:
            running = [future for future in futures if not future.done()]
            if len(running) >= jobs:
                wait(running, return_when=FIRST_COMPLETED)
            futures.append(pool.submit(work, item))
        return [future.result() for future in futures]
