"""Data-parallel training under torchrun: process group, sharding and the few collectives.

`torchrun --nproc_per_node=N -m bilm.train ...` starts N copies that find each other through
the RANK / WORLD_SIZE / LOCAL_RANK environment. Each copy draws the same permutation of the
training windows and takes every N-th window of each global batch, so a global batch is
cfg.batch_size windows whatever N is. DDP averages the gradients; every rank validates the
whole validation split after syncing the BatchNorm buffers, so all ranks take the same
decisions (lr, early stopping) without further messages. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """The place of this process among torchrun's processes (a single process without torchrun)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))


def init(world: World, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo between CPU processes."""
    if world.distributed:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                rank=world.rank, world_size=world.size)


def close(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    if not world.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    # static_graph: the set of used parameters never changes, which also covers ablations
    # (a zero loss weight) that leave a submodule without gradients.
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   static_graph=True)


def shard(batch: Tensor, world: World) -> Tensor:
    """This rank's share of a global batch of indices."""
    return batch[world.rank::world.size]


def all_reduce(values: Tensor, world: World, op: str = "sum") -> Tensor:
    """Element-wise "sum" or "min" over ranks (the tensor itself on a single process)."""
    if world.distributed:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MIN)
    return values


def gather_to_main(value: Any, world: World) -> list[Any] | None:
    """Every rank's `value`, in rank order, on rank 0 (None elsewhere); [value] on one process."""
    if not world.distributed:
        return [value]
    values: list[Any] | None = [None] * world.size if world.is_main else None
    dist.gather_object(value, values, dst=0)
    return values


def sync_buffers(module: nn.Module, world: World) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics drift apart on different shards)."""
    if world.distributed:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
