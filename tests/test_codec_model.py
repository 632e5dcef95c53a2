"""The codec's networks and schedule without shipped weights (shapes, conditioning, tables)."""
import math

import pytest
import torch

from rac_video import schedule
from rac_video.codec.autoencoder import Analysis, Synthesis
from rac_video.codec.denoiser import Denoiser, gamma_embedding
from rac_video.codec.hyperprior import HyperPrior
from rac_video.entropy.likelihood import gaussian_bits


def test_level_table_matches_float64_formula():
    tab = schedule.level_table(5)
    g_bg, g_roi = schedule.gamma_range(5)
    for ell in (0, 7, 15):
        g = g_bg + (g_roi - g_bg) * ell / 15
        a, s = math.sqrt(1 / (1 + math.exp(-g))), math.sqrt(1 / (1 + math.exp(g)))
        assert tab.gamma[ell].item() == pytest.approx(g, rel=1e-6)
        assert tab.delta[ell].item() == pytest.approx(math.sqrt(12) * s / a, rel=1e-6)
        assert tab.alpha[ell].item() ** 2 + tab.sigma[ell].item() ** 2 == pytest.approx(1, abs=1e-6)
    assert (tab.delta[1:] < tab.delta[:-1]).all()          # more important = finer steps
    assert (schedule.level_table(9).delta < tab.delta).all()  # higher quality = finer everywhere


def test_schedule_versions_are_pinned_and_stay_in_range():
    """Published ramps never change (old bitstreams name a model trained on one); every version keeps
    γ inside [GAMMA_MIN, GAMMA_MAX], raises γ with q, and a model's record picks its version."""
    assert schedule.RAMPS[1] == (1.0, 0.5, 7.0)              # rac-tiny-v1
    assert schedule.gamma_range(0, 1) == (-6.0, 1.0) and schedule.gamma_range(15, 1) == (1.5, 8.5)
    for v in schedule.RAMPS:
        ranges = [schedule.gamma_range(q, v) for q in schedule.QUALITIES]
        assert all(schedule.GAMMA_MIN <= bg < roi <= schedule.GAMMA_MAX for bg, roi in ranges)
        assert all(a[1] < b[1] and a[0] <= b[0] for a, b in zip(ranges, ranges[1:]))
    assert schedule.gamma_range(0, 2)[0] == schedule.GAMMA_MIN   # the background end is clamped
    assert not torch.equal(schedule.level_table(3, 16, 1).delta, schedule.level_table(3, 16, 2).delta)
    with pytest.raises(ValueError, match="schedule version"):
        schedule.level_table(3, 16, 99)


@pytest.mark.parametrize("bad", [-1, 16, 2.0, True, "3"])
def test_bad_quality(bad):
    with pytest.raises(ValueError, match="quality"):
        schedule.level_table(bad)


def test_t_gamma_round_trip():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(schedule.t_of_gamma(schedule.gamma_of_t(t)), t)


def test_shapes_for_odd_latents():
    y = torch.randn(2, 16, 9, 13)
    gamma = torch.rand(2, 1, 9, 13) * 10 - 4
    assert Denoiser()(y, gamma).shape == y.shape
    assert gamma_embedding(gamma).shape == (2, 32, 9, 13)
    x = torch.rand(1, 3, 64, 96)
    assert Analysis()(x).shape == (1, 16, 8, 12)
    assert Synthesis()(Analysis()(x)).shape == x.shape


def test_denoiser_is_conditioned_per_pixel():
    torch.manual_seed(0)
    d = Denoiser()
    z = torch.randn(1, 16, 8, 8)
    g1 = torch.full((1, 1, 8, 8), 2.0)
    g2 = g1.clone()
    g2[..., :4] = -5.0                                      # change γ in the left half only
    out1, out2 = d(z, g1), d(z, g2)
    assert not torch.allclose(out1, out2)


def test_hyperprior_uses_condition():
    torch.manual_seed(0)
    hp = HyperPrior()
    y = torch.randn(1, 16, 16, 16)
    c1, c2 = torch.zeros(1, 2, 16, 16), torch.ones(1, 2, 16, 16)
    assert not torch.allclose(hp.analysis(y, c1), hp.analysis(y, c2))
    mu, s = hp.synthesis(torch.round(hp.analysis(y, c1)), c1)
    assert mu.shape == y.shape and (s > 0).all()


def test_checkerboard_context_reads_only_anchors():
    """(μ, s) at anchors are the hyperprior's; elsewhere they depend on anchor values of ŷ only, never on
    the non-anchor values (which the decoder does not have yet)."""
    from rac_video.codec.context import CheckerboardContext, anchor_mask

    torch.manual_seed(0)
    ctx = CheckerboardContext(4, width=8).eval()
    torch.nn.init.normal_(ctx.net[-1].weight, std=0.1)
    n, h, w = 2, 6, 7
    y, mu = torch.randn(n, 4, h, w), torch.randn(n, 4, h, w)
    s, cond = torch.rand(n, 4, h, w) + 0.1, torch.rand(n, 2, h, w)
    a = anchor_mask(h, w)
    assert a.shape == (1, 1, h, w) and a[0, 0, 0, 0] and not a[0, 0, 0, 1] and a[0, 0, 1, 1]
    with torch.no_grad():
        m1, s1 = ctx(y, mu, s, cond)
        m2, s2 = ctx(torch.where(a, y, torch.randn_like(y) * 5), mu, s, cond)   # other non-anchor values
        m3, _ = ctx(torch.where(a, y + 1, y), mu, s, cond)                      # other anchor values
    A = a.expand_as(y)
    assert torch.equal(m1[A], mu[A]) and torch.equal(s1[A], s[A])
    assert torch.equal(m1, m2) and torch.equal(s1, s2)
    assert not torch.allclose(m1[~A], m3[~A])
    assert (s1 >= 0.01).all()
    fresh = CheckerboardContext(4, width=8)                  # untrained: exactly the hyperprior
    with torch.no_grad():
        m0, s0 = fresh(y, mu, s, cond)
    assert torch.equal(m0, mu) and torch.allclose(s0, s.clamp_min(0.01))


def test_gaussian_bits_matches_float64_and_sums_to_one():
    mean, scale = torch.tensor(0.3, dtype=torch.float64), torch.tensor(1.7, dtype=torch.float64)
    ks = torch.arange(-60, 61, dtype=torch.float64)
    p = 2.0 ** -gaussian_bits(ks, mean, scale)
    # exact up to the likelihood floor given to each of the far-tail bins
    assert abs(float(p.sum()) - 1.0) <= len(ks) * 1e-9
    # far tails do not cancel to zero (computed on the near side of the mean)
    assert float(gaussian_bits(torch.tensor(9.0), torch.tensor(0.0), torch.tensor(0.5))) < 200


def test_global_clock_equals_elementwise_on_a_uniform_map_and_pins_low_t_elements():
    """The global-clock sampler (ablation) reduces to elementwise DDIM when every element has the
    same t; with two levels the low-t half is held to its observation until the clock reaches it."""
    from rac_video.codec.denoiser import denoise, denoise_global_clock

    torch.manual_seed(0)
    d = Denoiser().eval()
    y = torch.randn(1, 16, 8, 12)
    flat = torch.full((1, 1, 8, 12), 3.0)
    with torch.no_grad():
        torch.testing.assert_close(denoise_global_clock(d, y, flat, 4), denoise(d, y, flat, 4), rtol=1e-5, atol=1e-5)
        assert torch.equal(denoise_global_clock(d, y, flat, 0), y)
        two = flat.clone()
        two[..., :6] = -3.0                                   # left half: high t (noisy), right: low t
        a, b = denoise_global_clock(d, y, two, 3, seed=1), denoise_global_clock(d, y, two, 3, seed=1)
        assert torch.equal(a, b)                              # seeded: deterministic
        assert not torch.allclose(a, denoise_global_clock(d, y, two, 3, seed=2))
        assert not torch.allclose(a, denoise(d, y, two, 3))
