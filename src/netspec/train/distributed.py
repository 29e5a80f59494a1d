"""Device choice and multi-process training under ``torchrun``.

``torchrun`` announces the process group through environment variables (``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``...). When they say there is more than one
process, :func:`setup` joins the group (NCCL on GPUs, gloo on CPUs), gives each local
rank its own GPU, and everything else asks this module instead of ``torch.distributed``
directly, so single-process training has no special cases beyond ``dist.enabled``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as torch_dist

from netspec.train.errors import TrainUsageError

T = TypeVar("T")


class DeviceError(TrainUsageError):
    """The requested device does not exist on this machine (command-line misuse)."""


def resolve_device(request: str, local_rank: int = 0) -> torch.device:
    """``auto`` is CUDA when present (this rank's GPU), else the CPU; others are checked."""
    request = request.strip().lower()
    if request == "auto":
        request = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(request)
    except RuntimeError:
        raise DeviceError(
            f"--device {request!r} is not a device (use auto, cpu, cuda, cuda:N or mps)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("--device cuda: CUDA is not available on this machine")
        index = local_rank if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device cuda:{index}: this machine has {torch.cuda.device_count()} GPU(s)"
            )
        device = torch.device("cuda", index)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("--device mps: MPS is not available on this machine")
    return device


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main rank prints and writes files."""
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks (CPU tensors; they are moved for NCCL and back)."""
        if not self.enabled:
            return tensor
        backend_device = _backend_device()
        reduced = tensor.to(backend_device)
        torch_dist.all_reduce(reduced, op=torch_dist.ReduceOp.SUM)
        return reduced.to(tensor.device)

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (picklable Python objects)."""
        if not self.enabled:
            return value
        box: list[Any] = [value]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.enabled:
            return [value]
        boxes: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(boxes, value)
        return boxes

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def close(self) -> None:
        if self.enabled and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def _backend_device() -> torch.device:
    if torch_dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def setup(device_request: str) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group if there is one; return it and this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), resolve_device(device_request)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_request, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch_dist.init_process_group(backend="nccl", device_id=device)
    else:
        torch_dist.init_process_group(backend="gloo")
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank), device
