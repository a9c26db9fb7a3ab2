"""Cache keys: configs that mean the same thing hash alike, whatever type their numbers were given in."""

from __future__ import annotations

import numpy as np
import pytest

from gdlib.config import EVALUATION_ONLY, KEYED_WHEN_SET, LOGGING_ONLY, TrainConfig
from gdlib.datasets import DatasetConfig
from gdlib.keys import canonical, config_key
from gdlib.regions import Cross


def test_six_and_six_point_zero_are_one_number_in_a_key():
    assert config_key({"margin": 6}) == config_key({"margin": 6.0}) == config_key({"margin": np.float64(6)})
    assert config_key({"margin": 6}) != config_key({"margin": 6.5})
    assert config_key({"x": 0.1 + 0.2}) != config_key({"x": 0.3})  # different values stay different


def test_tuples_and_lists_and_key_order_do_not_change_a_key():
    assert canonical((1, 2)) == canonical([1, 2])
    assert config_key({"a": 1, "b": (2, 3)}) == config_key({"b": [2, 3], "a": 1})


def test_a_non_finite_number_has_no_key():
    with pytest.raises(ValueError, match="finite"):
        config_key({"lr": float("nan")})


def test_ints_in_float_fields_are_stored_as_floats_and_hash_like_them():
    # -p MARGIN 6 must find the models the profile's MARGIN: 6.0 trained
    assert DatasetConfig(margin=6, n=32, d=1).margin == 6.0 and isinstance(DatasetConfig(margin=6).margin, float)
    assert DatasetConfig(margin=6).key() == DatasetConfig(margin=6.0).key()
    a = TrainConfig(data=DatasetConfig(margin=6), lr=1, eta=1, weight_decay=0)
    b = TrainConfig(data=DatasetConfig(margin=6.0), lr=1.0, eta=1.0, weight_decay=0.0)
    assert isinstance(a.lr, float) and a == b and a.key() == b.key()
    assert TrainConfig(data=DatasetConfig(holdout=Cross(13, 19))).key() == \
        TrainConfig(data=DatasetConfig(holdout=Cross(13.0, 19.0))).key()


def test_training_and_dataset_configs_share_one_key_function():
    data = DatasetConfig(n=8, d=1.0)
    assert data.key() == config_key(data.to_dict())
    cfg = TrainConfig(data=data)
    # a field in KEYED_WHEN_SET left at its default is not hashed (the runs cached before it keep their keys)
    assert cfg.key() == config_key({k: v for k, v in cfg.to_dict().items()
                                    if k not in LOGGING_ONLY + EVALUATION_ONLY + tuple(KEYED_WHEN_SET)})


@pytest.mark.parametrize("field,value", [("log_every", 7), ("sample_batch_size", 3), ("eval_epochs", (0, 1))])
def test_logging_only_fields_do_not_change_the_training_key(field, value):
    base = TrainConfig(data=DatasetConfig(n=8, d=1.0), epochs=2)
    assert TrainConfig(**{**base.__dict__, field: value}).key() == base.key()


@pytest.mark.parametrize("field,value", [("sampler", "ddim"), ("sample_steps", 10), ("eta", 0.0)])
def test_evaluation_settings_do_not_change_the_training_key(field, value):
    # issue 20 item 7: sampling is not training; the settings key the evaluations instead (gdlib.runs.eval_path)
    base = TrainConfig(data=DatasetConfig(n=8, d=1.0), epochs=2)
    other = TrainConfig(**{**base.__dict__, field: value})
    assert other.key() == base.key()
    # the evaluation files' tag: the ancestral sampler uses neither the step count nor eta
    assert other.sampling.tag() == {"sampler": "ddim50-eta1", "sample_steps": "ddpm", "eta": "ddpm"}[field]


def test_fields_that_change_the_weights_do_change_the_key():
    base = TrainConfig(data=DatasetConfig(n=8, d=1.0), epochs=2)
    changed = [TrainConfig(**{**base.__dict__, f: v}) for f, v in
               [("checkpoint_epochs", (1,)), ("epochs", 3), ("lr", 1e-3), ("seed", 1), ("batch_size", 32)]]
    assert len({c.key() for c in changed} | {base.key()}) == len(changed) + 1
