"""Random training maps (rac_video.importance.random_maps)."""
import numpy as np
import pytest

from rac_video.importance import random_maps


@pytest.mark.parametrize("kind", random_maps.KINDS)
def test_each_kind_in_range_and_reproducible(kind):
    a = random_maps.random_importance(np.random.default_rng(3), (40, 56), kind)
    b = random_maps.random_importance(np.random.default_rng(3), (40, 56), kind)
    assert a.shape == (40, 56) and a.dtype == np.float32
    assert 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, b)


def test_kinds_look_like_their_name():
    rng = np.random.default_rng(0)
    assert np.unique(random_maps.random_importance(rng, (20, 20), "uniform")).size == 1
    g = random_maps.random_importance(rng, (30, 30), "gradient")
    assert np.unique(g).size > 10
    f = np.stack([random_maps.random_importance(rng, (256, 256), "foveation") for _ in range(8)])
    assert f.max() == 1 and (f.reshape(8, -1).min(axis=1) < 0.9).sum() >= 4  # falls off inside the crop
    r = random_maps.random_importance(rng, (60, 80), "regions")
    assert np.unique(r).size <= 6  # background + up to 4 regions


def test_batch_and_errors():
    b = random_maps.random_batch(7, 12, (16, 24))
    assert b.shape == (12, 1, 16, 24) and np.array_equal(b, random_maps.random_batch(7, 12, (16, 24)))
    with pytest.raises(ValueError):
        random_maps.random_importance(np.random.default_rng(0), (0, 3))
    with pytest.raises(ValueError):
        random_maps.random_importance(np.random.default_rng(0), (3, 3), "noise")
    with pytest.raises(ValueError):
        random_maps.random_importance(3, (3, 3))
    with pytest.raises(ValueError):
        random_maps.random_batch(0, 2, (4, 4), kinds=())
