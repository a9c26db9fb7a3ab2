"""Speed benchmark, not a test: ``python -m gdlib.bench [--paper-batch 16] [--steps 3] [--only paper]``.

For two settings, the paper's architecture (N = 32, width 64, attention at every resolution, 4 heads)
and the ``quick`` profile's (N = 16, width 16, no attention at full resolution, 1 head), it measures

- training images/s of our step (data as one uint8 tensor on the device, indexed batches, SDPA
  attention, channels_last, fused AdamW + EMA, bf16 autocast where :mod:`gdlib.device` enables it),
- sampling image-steps/s (one network call plus the DDPM update per step, under inference_mode),

next to a reference written the plain way (dome272's Diffusion-Models-pytorch: ``nn.MultiheadAttention``
returning its weights, fp32, contiguous NCHW, for-each AdamW + EMA, a ``DataLoader`` over a
``TensorDataset`` of float images, ``torch.no_grad`` sampling; the convolutions are the same modules),
with the two measured alternately step by step in the same run, so that a machine shared with other
jobs slows both alike. It prints the ratio, the FLOPs of one training step
(``torch.utils.flop_counter.FlopCounterMode``) and the achieved FLOP/s against the device's peak
(:func:`gdlib.device.peak_flops`, a rough figure). Times are medians of the timed steps.

The paper-architecture reference step takes seconds per batch of 16 on a 2-core CPU: the default
batch is therefore small (16) and only a few steps are timed; use ``--paper-batch 64 --steps 10`` on a GPU.

The package: :mod:`gdlib.bench.setting` times one setting (our training step and what it measures),
:mod:`gdlib.bench.reference` is the plain reference, :mod:`gdlib.bench.ensemble` the vmapped ensemble
of K models, and ``__main__`` the command line.
"""
