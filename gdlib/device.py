"""The one place that decides the device, the dtype and mixed precision.

Every other module asks here instead of calling ``torch.cuda.is_available()`` itself:

- :func:`get_device`: CUDA when present, else the CPU (``GDLIB_DEVICE=cpu|cuda|mps`` overrides).
- :func:`bf16_supported`: whether bf16 autocast pays off on that device. CUDA: when the GPU
  supports bf16 (Ampere and later). CPU: only when the CPU has bf16 instructions
  (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``; on other systems when PyTorch reports an
  AMX capability). Without them oneDNN emulates bf16 and gains little or loses, so fp32 is kept.
  ``GDLIB_BF16=0|1`` overrides the detection.
- :func:`bf16_for` / :func:`fused_adamw`: the same choice for one UNet width: small models train in fp32 with
  for-each AdamW on the CPU, where bf16 and the fused optimiser cost more than they save (issue 21).
- :func:`autocast`: the autocast context for a device (a no-op where bf16 is off).
- :func:`setup`: TF32 matmuls and convolutions on CUDA; on the CPU one thread per usable core (one
  thread in all when the CPU is already oversubscribed), denormals flushed to zero.
- :func:`threads`: a fixed intra-op thread count for a block (training and evaluation run under their
  config's ``threads``, so that the same config gives the same numbers on a loaded or an idle machine).
- :func:`memory_format` / :func:`prepare_model`: channels_last weights and activations.
- :func:`one_blas_thread`: numpy's and scipy's BLAS in one thread for a loop of small products (the resampled
  intervals of claims C1-C5).

Weights, optimiser state and the EMA stay fp32 everywhere: autocast only lowers the compute.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform

import torch

_SETUP_DONE = False


def usable_cores() -> int:
    """CPU cores this process may run on (affinity-aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """One intra-op thread per usable core, or a single thread when the CPU is already busy.

    On an oversubscribed CPU (1-minute load average above the usable cores minus one half, measured
    before this process starts working) every OpenMP parallel region waits for a descheduled worker:
    on a 2-core machine under a load of 5, a training step took 3-12 s with two threads and 0.8 s
    with one. This default only serves work outside training and evaluation, which run with their
    config's fixed count (:func:`threads`): the count changes a CPU computation's float rounding.
    """
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0] > cores - 0.5
    except (AttributeError, OSError):
        busy = False
    return 1 if busy and cores <= 4 else cores


def setup(threads: int | None = None) -> None:
    """Process-wide settings, idempotent: TF32 on CUDA; on the CPU the intra-op thread count and
    flushing denormal floats to zero (denormals slow x86 arithmetic by 10-100x; called before the
    OpenMP workers start, which inherit the setting).

    ``threads`` (or ``GDLIB_THREADS``) sets torch's intra-op thread count; by default
    :func:`default_threads`.
    """
    global _SETUP_DONE
    if threads is not None:
        torch.set_num_threads(int(threads))
    if _SETUP_DONE:  # get_device() calls this often: GDLIB_THREADS must not undo a later choice
        return
    torch.set_flush_denormal(True)
    if threads is None:
        env = os.environ.get("GDLIB_THREADS")
        torch.set_num_threads(int(env) if env else default_threads())
    if torch.cuda.is_available():
        # TF32: about 8x the fp32 matmul rate on A100/H100, ample precision for noise prediction.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    _SETUP_DONE = True


@contextlib.contextmanager
def threads(count: int):
    """Run the block with ``count`` intra-op CPU threads, then restore the previous count.

    On the CPU the thread count changes how reductions (convolutions, matmuls) are split, and so the
    rounding: the same training run with 1 and 2 threads ends with different weights. CUDA kernels do
    not depend on it.
    """
    setup()
    before = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with numpy's and scipy's BLAS and LAPACK in one thread, then restore their count.

    For loops of many small products (a 256 x 256 eigendecomposition a resample: C2's intervals), where a second
    thread only waits, and on a busy CPU waits for a descheduled worker: under a load of 1.5 on 2 cores the
    eigendecomposition took 2 ms in one thread and 9 ms in two, and C2's intervals 20 s against 78 s in notebook 03.
    One thread does not change the results beyond rounding."""
    from threadpoolctl import threadpool_limits  # a declared dependency (pyproject.toml)

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device: ``prefer`` if given, else ``GDLIB_DEVICE``, else CUDA if present, else the CPU."""
    setup()
    name = prefer if prefer is not None else os.environ.get("GDLIB_DEVICE")
    if name is not None:
        return torch.device(name)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def visible_gpus() -> list[int]:
    """The CUDA devices this process sees, as indices a child's CUDA_VISIBLE_DEVICES takes (this process's own
    CUDA_VISIBLE_DEVICES entries when it sets them); empty without CUDA. A process sweep gives each worker one."""
    if not torch.cuda.is_available():
        return []
    entries = [e.strip() for e in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if e.strip()]
    if entries and all(e.isdigit() for e in entries):
        return [int(e) for e in entries][:torch.cuda.device_count()]
    return list(range(torch.cuda.device_count()))


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` with its family and model numbers ("AMD EPYC" alone does not tell
    a Zen 4 from a Zen 5), or the platform's name where there is no such file."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info:
        name += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    return name


@functools.cache
def _cpu_has_bf16() -> bool:
    flags = cpu_flags()
    if flags:
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    capability = str(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")())
    return "AMX" in capability.upper() or (platform.machine() == "arm64" and platform.system() == "Darwin")


def bf16_supported(device: torch.device | str | None = None) -> bool:
    """Whether bf16 autocast is used on ``device`` (see the module docstring; ``GDLIB_BF16`` overrides)."""
    device = get_device() if device is None else torch.device(device)
    env = os.environ.get("GDLIB_BF16")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "off", "")
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_has_bf16()
    return False


#: Below this UNet width the CPU trains in fp32 with for-each AdamW, above it in bf16 (where the CPU has it) with
#: fused AdamW. Measured with ``python -m gdlib.bench --levers --threads 1`` and the same step at width 16, one
#: thread, on a 2-core AMD EPYC (Zen 4, AVX512-BF16; issue 21): width 8, batch 64 (the sweeps' model): fp32 +
#: for-each 1.50x the bf16 + fused step (fp32 + fused 1.32x); width 16, batch 128 (the torus model): bf16 + fused
#: is fastest (bf16 + for-each 0.91x, fp32 + fused 0.85x, fp32 + for-each 0.75x). A tiny model's convolutions
#: (8 channels) are too small for bf16 kernels to pay for their conversions.
CPU_BF16_MIN_WIDTH = 16


def bf16_for(width: int | None, device: torch.device | str | None = None) -> bool:
    """Whether a UNet of ``width`` runs under bf16 autocast on ``device``: :func:`bf16_supported`, except on the
    CPU below :data:`CPU_BF16_MIN_WIDTH` (fp32 there). ``GDLIB_BF16`` overrides both; ``width`` None (not a UNet)
    follows :func:`bf16_supported`."""
    device = get_device() if device is None else torch.device(device)
    if os.environ.get("GDLIB_BF16") is not None or width is None or device.type != "cpu":
        return bf16_supported(device)
    return bf16_supported(device) and width >= CPU_BF16_MIN_WIDTH


def fused_adamw(width: int | None, device: torch.device | str | None = None) -> bool:
    """Whether AdamW runs fused (one kernel over all parameters) or for-each: fused on CUDA and on the CPU from
    :data:`CPU_BF16_MIN_WIDTH` up, for-each for smaller models on the CPU (measured: see that constant). The two
    differ only in float rounding."""
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and (width is None or width >= CPU_BF16_MIN_WIDTH)


def autocast(device: torch.device | str | None = None, enabled: bool | None = None, model: object = None):
    """bf16 autocast on ``device`` when ``enabled`` says so, by default where :func:`bf16_for` does for ``model``'s
    width (a model without one: :func:`bf16_supported`), else a no-op."""
    device = get_device() if device is None else torch.device(device)
    if enabled is None:
        enabled = bf16_for(getattr(model, "width", None), device)
    if not enabled or device.type not in ("cuda", "cpu"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def memory_format(device: torch.device | str | None = None) -> torch.memory_format:
    """channels_last on the CPU and CUDA (oneDNN and cuDNN convolutions prefer it; measured 1.2x per
    training step on a 2-core AVX-512 CPU at N = 16 width 16 and at N = 32 width 64; it also makes the
    attention's (B, HW, C) tokens a free view). ``GDLIB_CHANNELS_LAST=0`` turns it off."""
    device = get_device() if device is None else torch.device(device)
    if os.environ.get("GDLIB_CHANNELS_LAST", "1").strip().lower() in ("0", "false", "no", "off"):
        return torch.contiguous_format
    return torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format


def prepare_model(model: torch.nn.Module, device: torch.device | str | None = None) -> torch.nn.Module:
    """Move ``model`` to ``device`` in the memory format :func:`memory_format` picks (weights stay fp32)."""
    device = get_device() if device is None else torch.device(device)
    return model.to(device=device, memory_format=memory_format(device))


def compute_dtype(device: torch.device | str | None = None) -> torch.dtype:
    """The dtype the heavy ops run in on ``device``: bf16 under autocast, else fp32."""
    return torch.bfloat16 if bf16_supported(device) else torch.float32


def synchronize(device: torch.device | str) -> None:
    """Wait for queued kernels (for timing); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_flops(device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> float | None:
    """A rough peak FLOP/s for ``device`` in ``dtype`` (None when unknown), for the benchmark only.

    CPU: cores in use (torch's threads) x clock x FLOPs per cycle per core: 64 fp32 with AVX-512
    (two 16-lane FMA units; Zen 4 splits 512-bit ops, so this is generous there), 32 with AVX2; for bf16
    1,024 with AMX (its tile unit; oneDNN reaches it only for bf16 convolutions and matmuls of large enough
    tiles, so small models stay far below) and otherwise twice the fp32 figure with AVX512-BF16. CUDA: dense
    tensor-core figures for A100/H100 (bf16, TF32) from the data sheets.
    ``GDLIB_PEAK_FLOPS`` overrides.
    """
    if os.environ.get("GDLIB_PEAK_FLOPS"):
        return float(os.environ["GDLIB_PEAK_FLOPS"])
    device = get_device() if device is None else torch.device(device)
    dtype = compute_dtype(device) if dtype is None else dtype
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device).upper()
        table = {"H100": (989e12, 495e12), "H200": (989e12, 495e12), "A100": (312e12, 156e12)}
        for key, (bf16, tf32) in table.items():
            if key in name:
                return bf16 if dtype == torch.bfloat16 else tf32
        return None
    if device.type != "cpu":
        return None
    mhz = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("cpu MHz"):
                    mhz = float(line.split(":")[1])
                    break
    except OSError:
        return None
    if mhz is None:
        return None
    flags = cpu_flags()
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags else 8
    if dtype == torch.bfloat16 and "amx_bf16" in flags:
        per_cycle = 1024  # AMX tiles: 1,024 bf16 operations per cycle and core (Intel's AMX overview)
    elif dtype == torch.bfloat16 and _cpu_has_bf16():
        per_cycle *= 2
    return min(usable_cores(), torch.get_num_threads()) * mhz * 1e6 * per_cycle


#: The CUDA peak allocated bytes per device index before :func:`reset_peak_memory` last cleared them.
_EARLIER_PEAKS: dict[int, int] = {}


def _cuda_index(device: torch.device) -> int:
    return torch.cuda.current_device() if device.index is None else device.index


def reset_peak_memory(device: torch.device | str) -> None:
    """Reset CUDA's peak allocated memory on ``device`` (to measure one call's peak, :mod:`gdlib.memory`) without
    losing the process's peak so far, which :func:`peak_memory` keeps reporting."""
    device = torch.device(device)
    index = _cuda_index(device)
    _EARLIER_PEAKS[index] = max(_EARLIER_PEAKS.get(index, 0), int(torch.cuda.max_memory_allocated(device)))
    torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device | str | None = None) -> str:
    """One line: the peak memory this process has used on ``device`` so far (CUDA: ``max_memory_allocated``, what
    training and the sampler held, also across the sampler's probes, :func:`reset_peak_memory`; CPU: the peak
    resident set), for gpu-check's report (issue 21)."""
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        peak = max(int(torch.cuda.max_memory_allocated(device)), _EARLIER_PEAKS.get(_cuda_index(device), 0))
        return f"peak GPU memory allocated: {peak / 2**30:.2f} GiB " \
               f"(of {torch.cuda.get_device_properties(device).total_memory / 2**30:.0f} GiB)"
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        return f"peak resident memory of this process: {peak:.2f} GiB"
    except ImportError:  # Windows
        return "peak memory: not measured on this system"


def describe(device: torch.device | str | None = None) -> str:
    """One line: device, compute dtype, threads (for notebooks and the benchmark)."""
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
        what = f"{platform.processor() or platform.machine()} ({capability}, {usable_cores()} cores)"
    dtype = "bf16 autocast" if bf16_supported(device) else "fp32"
    return f"{device.type}: {what}; {dtype}; torch {torch.__version__}, {torch.get_num_threads()} threads"
