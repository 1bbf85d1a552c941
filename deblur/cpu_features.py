"""Does this CPU have int8 dot-product instructions, and how many cores may this process use? (torch-free;
read from Linux's /proc/cpuinfo and /sys)

ONNX Runtime's CPU int8 kernels are only faster than its fp32 ones where the CPU multiplies and sums
int8 values in one instruction: VNNI on x86 (``avx512_vnni``, ``avx_vnni``), the dot-product and
int8 matrix-multiply extensions on ARM (``asimddp``, the kernel's name for dotprod, and ``i8mm``).
"""

import os
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
CPU_TOPOLOGY = Path("/sys/devices/system/cpu")
INT8_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "asimddp", "dotprod", "i8mm"})
FLAG_LINES = ("flags", "features")  # x86 lists its extensions under "flags", ARM under "Features"


def cpu_flags(cpuinfo: str) -> set[str]:
    """Every extension named on the flags/Features lines of a /proc/cpuinfo text."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in FLAG_LINES:
            flags.update(value.split())
    return flags


def int8_dot_product(cpuinfo_path: Path = CPUINFO) -> set[str] | None:
    """The int8 dot-product extensions this CPU lists (empty: none), or None where the flags cannot be read."""
    try:
        flags = cpu_flags(cpuinfo_path.read_text(errors="replace"))
    except OSError:
        return None
    return (flags & INT8_DOT_PRODUCT_FLAGS) if flags else None


def int8_speed_note(cpuinfo_path: Path = CPUINFO) -> str | None:
    """A one-line note when int8 models are not expected to run faster than fp32 here; None when they are."""
    found = int8_dot_product(cpuinfo_path)
    if found:
        return None
    if found is None:
        return "cannot read this CPU's flags (no /proc/cpuinfo): int8 is faster than fp32 only with VNNI (x86) or dotprod/i8mm (ARM)"
    return "this CPU has no VNNI (x86) or dotprod/i8mm (ARM): the int8 model is not expected to be faster than fp32 here"


def usable_physical_cores(topology: Path = CPU_TOPOLOGY) -> int:
    """Physical cores among the CPUs this process may run on (hyper-threads of one core count once), as ONNX
    Runtime counts its default threads; the usable CPUs where Linux's topology files cannot be read."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        try:
            cores.add((topology / f"cpu{cpu}/topology/thread_siblings_list").read_text().strip())
        except OSError:
            return len(cpus)
    return len(cores)
