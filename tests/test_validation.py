"""One owner per rule: the UNet and the noise schedule check their own settings, and TrainConfig asks them,
so a config that constructs is a config that trains."""

from __future__ import annotations

import pytest

from gdlib.config import TrainConfig
from gdlib.datasets import DatasetConfig
from gdlib.diffusion import check_schedule, linear_schedule
from gdlib.model import UNet, check_unet

DATA = DatasetConfig(family="bump", n=8, sigma=1.0, d=1.0)


def test_t_100_with_beta_end_0_5_is_refused_by_the_config_as_by_the_schedule():
    # the betas are scaled by 1000 / T: beta_end = 0.5 at T = 100 would be a beta of 5
    with pytest.raises(ValueError, match="beta_end = 0.5 is not allowed with T = 100"):
        linear_schedule(100, 1e-4, 0.5)
    with pytest.raises(ValueError, match="beta_end = 0.5 is not allowed with T = 100"):
        TrainConfig(data=DATA, width=8, heads=1, T=100, beta_end=0.5)


@pytest.mark.parametrize("T,beta_end", [(100, 0.099), (10, 0.0099), (1000, 0.02), (2000, 1.0 - 1e-9)])
def test_every_schedule_the_config_accepts_builds(T, beta_end):
    cfg = TrainConfig(data=DATA, width=8, heads=1, T=T, beta_start=min(1e-4, beta_end), beta_end=beta_end,
                      sample_steps=2)
    assert float(cfg.schedule().betas.max()) < 1


@pytest.mark.parametrize("settings", [dict(width=8, heads=3), dict(width=0, heads=1), dict(width=8, heads=0),
                                      dict(width=8, heads=1, enc_dim=7),
                                      dict(width=8, heads=1, attention_resolutions=(3,))])
def test_the_config_and_the_unet_refuse_the_same_settings(settings):
    full = {"attention_resolutions": (1, 2, 4, 8), "enc_dim": 64, **settings}
    with pytest.raises(ValueError):
        check_unet(full["width"], full["heads"], full["attention_resolutions"], full["enc_dim"])
    with pytest.raises(ValueError):
        UNet(**full)
    with pytest.raises(ValueError):
        TrainConfig(data=DATA, **full)


def test_a_config_that_constructs_builds_its_network():
    cfg = TrainConfig(data=DATA, width=12, heads=3, attention_resolutions=(2, 8), enc_dim=6, T=50)
    assert isinstance(cfg.make_model(), UNet)
    check_schedule(cfg.T, cfg.beta_start, cfg.beta_end)
