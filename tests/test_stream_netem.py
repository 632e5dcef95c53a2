import math

import pytest

from rac_video.stream.netem import NetEm, NetEmConfig, parse_netem


def _schedule(cfg, n=400, size=12_000, fps=50.0):
    em = NetEm(cfg)
    return [em.submit(i / fps, size + (i * 37) % 5000) for i in range(n)], em


def test_same_seed_same_schedule_other_seed_differs():
    cfg = parse_netem(rate_mbps=20, delay_ms=20, jitter_ms=5, loss_pct=1, seed=7)
    a, _ = _schedule(cfg)
    b, _ = _schedule(cfg)
    assert a == b
    c, _ = _schedule(parse_netem(rate_mbps=20, delay_ms=20, jitter_ms=5, loss_pct=1, seed=8))
    assert a != c


def test_delay_jitter_bounds_and_order():
    cfg = parse_netem(delay_ms=20, jitter_ms=5, seed=1)
    sched, em = _schedule(cfg)
    lat = [t - i / 50.0 for i, t in enumerate(sched)]
    assert all(0.015 - 1e-9 <= v <= 0.025 + 1e-9 for v in lat)
    assert max(lat) - min(lat) > 0.005          # jitter is really applied
    assert sched == sorted(sched)               # in order (TCP-like)
    assert em.lost == 0 and em.sent == len(sched)


def test_loss_rate_close_to_setting():
    sched, em = _schedule(parse_netem(loss_pct=5, seed=3), n=4000)
    lost = sum(t is None for t in sched)
    assert lost == em.lost
    assert 0.035 < lost / 4000 < 0.065


def test_rate_limit_serialisation_and_tail_drop():
    # 1 Mbit/s link, 25 kB messages every 20 ms: 200 ms each -> backlog grows -> tail drops after queue_s
    cfg = parse_netem(rate_mbps=1, queue_ms=300)
    em = NetEm(cfg)
    t0 = em.submit(0.0, 25_000)
    assert t0 == pytest.approx(0.2)
    t1 = em.submit(0.0, 25_000)
    assert t1 == pytest.approx(0.4)             # waits behind the first
    out = [em.submit(0.02 * i, 25_000) for i in range(1, 40)]
    assert em.queue_drops > 0 and any(v is None for v in out)
    sent = [v for v in out if v is not None]
    # the link never carries more than its rate: deliveries are at least 0.2 s apart
    assert all(b - a >= 0.2 - 1e-9 for a, b in zip(sent, sent[1:]))


def test_inactive_and_describe():
    assert not NetEmConfig().active
    assert NetEmConfig().describe() == "none"
    d = parse_netem(rate_mbps=20, delay_ms=20, jitter_ms=5, loss_pct=1).describe()
    assert "20 Mbit/s" in d and "20 ms ± 5 ms" in d and "1 % loss" in d


@pytest.mark.parametrize("kw", [{"rate_mbps": -1}, {"loss_pct": 150}, {"delay_ms": 5, "jitter_ms": 10},
                                {"delay_ms": math.nan}])
def test_bad_config(kw):
    with pytest.raises(ValueError):
        parse_netem(**kw)


def test_backlog():
    em = NetEm(parse_netem(rate_mbps=1))
    assert em.backlog(0.0) == 0.0
    em.submit(0.0, 12_500)              # 0.1 s of link time
    assert em.backlog(0.04) == pytest.approx(0.06)
    assert em.backlog(0.5) == 0.0
    assert NetEm(parse_netem(delay_ms=10)).backlog(0.0) == 0.0
