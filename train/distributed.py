"""Process-group setup for ``torchrun`` (gloo on CPU, nccl on CUDA) and a resumable sharded batch order.

Run single-process as usual, or under ``torchrun --nproc_per_node=N``: the launcher's RANK,
WORLD_SIZE and LOCAL_RANK environment variables switch DistributedDataParallel on.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from deblur.model.config import ConfigError


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job and which device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on at least one (e.g. "time is up")."""
        if not self.is_distributed:
            return flag
        value = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available in this torch build")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda[:N], got {name!r}")
    return device


def setup_distributed(device_name: str = "auto") -> DistContext:
    """Join the ``torchrun`` process group if the launcher's environment says so."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class ShardedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of dataset indices for one rank, in an order fixed by ``(seed, epoch)`` only.

    Every epoch draws one permutation of the dataset; the global batch ``k`` is
    ``perm[k*B:(k+1)*B]`` and rank ``r`` of ``W`` takes every W-th index of it, so any number of
    processes sees the same global batches. Incomplete global batches are dropped.
    ``set_epoch(epoch, start)`` skips the first ``start`` batches, which is how a resumed run
    continues in the middle of an epoch.
    """

    def __init__(self, length: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ConfigError(f"batch_size {batch_size} must be divisible by the number of processes {world_size}")
        if length < batch_size:
            raise ConfigError(f"the training set has {length} samples, fewer than one batch of {batch_size}")
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    @property
    def batches_per_epoch(self) -> int:
        return self.length // self.batch_size

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator).tolist()
        for k in range(self.start, self.batches_per_epoch):
            batch = order[k * self.batch_size : (k + 1) * self.batch_size]
            yield batch[self.rank :: self.world_size]
