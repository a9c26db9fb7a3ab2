"""How many samples one network call of the sampler takes: from the free memory, not a constant (issue 21).

:func:`sample_batch_size` divides :data:`SAMPLE_MEMORY_SHARE` of the free memory (:func:`free_memory`: CUDA's
``mem_get_info``, else the system's available memory) by the bytes one sample costs (:func:`bytes_per_sample`, a
probe call at batch 2), and clamps it to [1, min(count, :data:`MAX_SAMPLE_BATCH`)]. The sampler's noise is drawn
for all samples at once, so the batch changes no sample (:func:`gdlib.diffusion.sample`).
"""

from __future__ import annotations

import torch

from gdlib.device import autocast as device_autocast
from gdlib.device import get_device, reset_peak_memory, synchronize

#: The most samples one sampler call takes when the batch is sized from memory: past a few hundred images a larger
#: batch no longer speeds up a network call on either device, and it delays the first result.
MAX_SAMPLE_BATCH = 1024
#: The share of the free memory one sampler call may fill: two training or sampling workers run side by side on a
#: 2-core CPU, and the estimate below is an upper bound for the CPU, an estimate for CUDA.
SAMPLE_MEMORY_SHARE = 0.25


def free_memory(device: torch.device | str | None = None) -> int:
    """Bytes free for new tensors on ``device``: CUDA's ``mem_get_info``, else the system's available memory."""
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    import psutil

    return int(psutil.virtual_memory().available)


def _attention_matrices(module: torch.nn.Module, inputs: tuple, device: torch.device) -> int:
    """Bytes of the (B, heads, HW, HW) attention matrices a :class:`gdlib.model.SelfAttention` call holds when it
    computes them in plain matrix products (its ``explicit`` path, and SDPA's math fallback on devices without a
    fused kernel: not on the CPU, where SDPA's flash kernel holds no such matrix): two fp32 matrices at once
    (Q K^T and its scaled copy, then the softmax); they are no module's output, so the output sum misses them."""
    from gdlib.model import SelfAttention

    if not isinstance(module, SelfAttention) or not (module.explicit or device.type != "cpu"):
        return 0
    b, _c, h, w = inputs[0].shape
    return 2 * b * module.heads * (h * w) ** 2 * 4


@torch.no_grad()
def bytes_per_sample(model: torch.nn.Module, n: int, device: torch.device | str | None = None,
                     autocast: bool | None = None) -> int:
    """Memory one sample of an ``n`` x ``n`` image costs in one no-grad network call of ``model``, from a probe
    call at batch 2, under the autocast the sampler uses (``autocast``: as :func:`gdlib.diffusion.sample`'s). CUDA:
    the rise of the peak allocated memory. Elsewhere (no allocator statistics): the sum of every module's output
    bytes, an upper bound, since without autograd an output is freed once its consumer has run, plus the attention
    matrices where they are materialised (:func:`_attention_matrices`)."""
    device = next(model.parameters()).device if device is None else torch.device(device)
    x = torch.zeros((2, 1, n, n), device=device)
    t = torch.zeros(2, dtype=torch.long, device=device)
    labels = torch.zeros((2, 2), device=device)
    was_training = model.training
    model.eval()
    try:
        if device.type == "cuda":
            synchronize(device)
            before = torch.cuda.memory_allocated(device)
            reset_peak_memory(device)  # keeps the process's peak for device.peak_memory
            with device_autocast(device, autocast, model):
                model(x, t, labels)
            synchronize(device)
            return max(1, (torch.cuda.max_memory_allocated(device) - before) // 2)
        total = [0]

        def count(module, inputs, output) -> None:
            for out in output if isinstance(output, (tuple, list)) else (output,):
                if isinstance(out, torch.Tensor):
                    total[0] += out.numel() * out.element_size()
            total[0] += _attention_matrices(module, inputs, device)

        hooks = [m.register_forward_hook(count) for m in model.modules()]
        try:
            with device_autocast(device, autocast, model):
                model(x, t, labels)
        finally:
            for h in hooks:
                h.remove()
        return max(1, (total[0] + x.numel() * x.element_size()) // 2)
    finally:
        if was_training:
            model.train()


def sample_batch_size(model: torch.nn.Module, n: int, count: int, device: torch.device | str | None = None,
                      free: int | None = None, autocast: bool | None = None) -> int:
    """Samples per network call for ``count`` samples of size ``n`` (issue 21: from memory, not a constant):
    :data:`SAMPLE_MEMORY_SHARE` of the free memory (``free`` bytes, measured when None) over
    :func:`bytes_per_sample` (under ``autocast``), at least 1 and at most ``min(count, MAX_SAMPLE_BATCH)``."""
    free = free_memory(device) if free is None else int(free)
    fits = int(SAMPLE_MEMORY_SHARE * free) // bytes_per_sample(model, n, device, autocast)
    return max(1, min(fits, count, MAX_SAMPLE_BATCH))


__all__ = ["MAX_SAMPLE_BATCH", "SAMPLE_MEMORY_SHARE", "free_memory", "bytes_per_sample", "sample_batch_size"]
