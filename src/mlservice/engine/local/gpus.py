"""GPUs as a kubelet with NVIDIA's device plugin hands them out: a container's
`nvidia.com/gpu` limit is a count of whole devices, given to one replica at a time and shown
to it as `CUDA_VISIBLE_DEVICES`. With too few free, the replica waits (`Pending`,
`Unschedulable`) as an unschedulable pod does, and starts once enough are released.

The machine's GPUs are what `nvidia-smi -L` lists (none when it is not installed); the lister
is injectable so tests need no GPU.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Final

from mlservice.errors import InvalidInput

log = logging.getLogger(__name__)

GPU_RESOURCE: Final = "nvidia.com/gpu"
VISIBLE_DEVICES: Final = "CUDA_VISIBLE_DEVICES"
GpuLister = Callable[[], list[str]]
"""The machine's GPUs by index, as CUDA numbers them ("0", "1", ...)."""

_LINE = re.compile(r"^GPU (\d+):")


def nvidia_smi_gpus() -> list[str]:
    """The GPUs `nvidia-smi -L` lists; none when it is absent or fails."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return []
    try:
        done = subprocess.run(
            [program, "-L"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("nvidia-smi -L failed (%s); counting no GPUs", type(exc).__name__)
        return []
    if done.returncode != 0:
        log.warning("nvidia-smi -L exited with %s; counting no GPUs", done.returncode)
        return []
    return parse_gpu_list(done.stdout)


def parse_gpu_list(text: str) -> list[str]:
    """Indices from `nvidia-smi -L` lines such as `GPU 0: NVIDIA A100 (UUID: GPU-...)`."""
    return [m.group(1) for line in text.splitlines() if (m := _LINE.match(line.strip()))]


def gpu_count(limits: Mapping[str, str], *, where: str) -> int:
    """Whole GPUs a container asks for (its `nvidia.com/gpu` limit; 0 when absent)."""
    raw = limits.get(GPU_RESOURCE)
    if raw is None:
        return 0
    if not str(raw).isdigit():
        raise InvalidInput(f"{where}.limits.{GPU_RESOURCE}={raw} must be a whole number of GPUs.")
    return int(raw)


class GpuPool:
    """Which GPUs each holder (a replica's container) has; the machine's list is read anew at
    each claim, so GPUs that appear or vanish are seen."""

    def __init__(self, lister: GpuLister = nvidia_smi_gpus) -> None:
        self._lister = lister
        self._held: dict[str, tuple[str, ...]] = {}

    def claim(self, holder: str, count: int) -> tuple[tuple[str, ...], str | None]:
        """(the GPUs `holder` now has, None) or ((), why it must wait)."""
        if holder in self._held:
            return self._held[holder], None
        machine = self._lister()
        taken = {gpu for held in self._held.values() for gpu in held}
        free = [gpu for gpu in machine if gpu not in taken]
        if len(free) < count:
            message = f"needs {count} GPUs ({GPU_RESOURCE}), this machine lists {len(machine)}"
            if taken:
                message += f" ({len(taken)} in use by other replicas)"
            return (), message + "."
        self._held[holder] = given = tuple(free[:count])
        return given, None

    def adopt(self, holder: str, gpus: tuple[str, ...]) -> None:
        """Record GPUs a running process already has (a replica adopted after a restart)."""
        self._held[holder] = gpus

    def release(self, holder: str) -> None:
        self._held.pop(holder, None)

    def held(self, holder: str) -> tuple[str, ...]:
        return self._held.get(holder, ())
