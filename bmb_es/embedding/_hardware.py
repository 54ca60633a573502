"""What the machine can do fast, and a stable identity for it (the key of cached precision checks)."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from pathlib import Path

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX-512 BF16: bf16 matrix products run natively (without them bf16 is slower than fp32)."""
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def is_cuda(device: str | None) -> bool:
    return device is not None and device.startswith("cuda")


def hardware_id(device: str | None) -> str:
    """``cpu:<model>:<bf16 flags>`` or ``cuda:<name>:sm<capability>``, plus the torch version.

    On a CPU this imports nothing heavy (the torch version comes from the installed package's metadata), so a
    warm OpenVINO load can look up its cached check without importing torch.
    """
    if is_cuda(device):
        import torch

        index = torch.device(device or "cuda").index or 0
        major, minor = torch.cuda.get_device_capability(index)
        identity = f"cuda:{torch.cuda.get_device_name(index)}:sm{major}{minor}"
    else:
        flags = ",".join(flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()) or "no-bf16"
        identity = f"cpu:{cpu_model()}:{flags}"
    return f"{identity}:torch-{_version('torch')}"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def gpu_present() -> bool:
    """An NVIDIA device node exists: torch may pick CUDA, so a load must ask torch (the slow path)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))
