"""Every config of the paper-scale profiles builds, and every model shape they use trains one step on the CPU."""

from __future__ import annotations

import pytest
import torch

from gdlib import diffusion
from gdlib.config import TrainConfig
from gdlib.plan import TRAINING_NOTEBOOKS, model_shape, notebook_configs, projected_hours, training_images
from gdlib.runner import discover_notebooks

NOTEBOOKS = discover_notebooks()


@pytest.fixture(scope="module", params=["full", "gpu-check"])
def profile_configs(request):
    return request.param, {num: notebook_configs(NOTEBOOKS[num], request.param) for num in TRAINING_NOTEBOOKS}


def test_every_training_notebook_builds_its_configs_at_the_papers_scale(profile_configs):
    profile, configs = profile_configs
    for num, cfgs in configs.items():
        assert cfgs, f"{profile}: notebook {num} builds no config"
        assert {c.width for c in cfgs} == {64} and {c.heads for c in cfgs} == {4}, (profile, num)
        assert {c.attention_resolutions for c in cfgs} == {(1, 2, 4, 8)}, (profile, num)
        assert max(c.data.n for c in cfgs) == 32, (profile, num)
    if profile == "full":
        # 05: 32 models, 07: 4 sigma x 10 lambda, 06: 2 data sets x 4 N x 7 percentages; each x 3 seeds
        assert len(configs["05"]) == 96 and len(configs["07"]) == 120 and len(configs["06"]) == 168
        assert configs["02"][0].data.d == (0.1, 0.1) and configs["02"][0].data.periodic


def test_every_model_shape_of_the_profile_trains_one_step_at_batch_two(profile_configs):
    profile, configs = profile_configs
    shapes = {model_shape(c): c for cfgs in configs.values() for c in cfgs}
    torch.manual_seed(0)
    for shape, cfg in shapes.items():
        model = cfg.make_model()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        n = cfg.data.n
        x0 = torch.rand(2, 1, n, n) * 2 - 1
        loss = diffusion.loss(model, cfg.schedule(), x0, torch.rand(2, 2) * n)
        loss.backward()
        opt.step()
        assert torch.isfinite(loss), (profile, shape)
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters()), (profile, shape)


def test_the_gpu_check_profile_trains_few_steps_and_full_many():
    quick = {num: notebook_configs(NOTEBOOKS[num], "gpu-check") for num in ("02", "07")}
    assert max(c.total_steps(1) for c in quick["02"]) <= 100
    full02 = notebook_configs(NOTEBOOKS["02"], "full")[0]
    assert training_images([full02]) == 200 * 1600 * 64  # 200 epochs of 102,400 images at batch 64


def test_projected_hours_divide_the_images_by_the_rate():
    cfg = TrainConfig(steps=1000, batch_size=64)
    assert projected_hours([cfg, cfg], 64 * 2000 / 3600) == pytest.approx(1.0)
