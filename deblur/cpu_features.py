"""Does this CPU have int8 dot-product instructions? (torch-free; read from Linux's /proc/cpuinfo)

ONNX Runtime's CPU int8 kernels are only faster than its fp32 ones where the CPU multiplies and sums
int8 values in one instruction: VNNI on x86 (``avx512_vnni``, ``avx_vnni``), the dot-product and
int8 matrix-multiply extensions on ARM (``asimddp``, the kernel's name for dotprod, and ``i8mm``).
"""

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
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
