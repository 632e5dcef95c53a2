"""Host↔device transfers and the side stream (rac_video.codec.transfer): values unchanged on every device."""
import numpy as np
import pytest
import torch

from rac_video.codec import inter, transfer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _frame(h=37, w=53, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_cpu_upload_is_a_view_and_download_owns_its_values():
    a = _frame()
    t = transfer.upload(a, "cpu")
    assert t.dtype == torch.uint8 and np.shares_memory(t.numpy(), a)
    ro = a.copy()
    ro.setflags(write=False)
    t2 = transfer.upload(ro, "cpu")                  # read-only input: copied, no warning, same values
    assert not np.shares_memory(t2.numpy(), ro) and np.array_equal(t2.numpy(), ro)
    t3 = transfer.upload(a[:, ::2], "cpu")             # strided input
    assert np.array_equal(t3.numpy(), a[:, ::2])
    assert np.array_equal(transfer.download(t3), a[:, ::2])


def test_side_stream_on_cpu_is_a_plain_call_and_hand_over_finds_every_tensor():
    side = transfer.SideStream("cpu")
    assert side.stream is None and side.run(lambda x, y=1: x + y, 2, y=3) == 5
    ref = inter.Reference(torch.zeros(1, 2, 3, 3, dtype=torch.int32), torch.zeros(1, 1, 3, 3, dtype=torch.int32),
                          4, torch.zeros(1, 1, 1, 1, dtype=torch.int32), hold=torch.ones(1, 1, 3, 3, dtype=torch.bool))
    e = inter.EntropyFrame(0, 4, np.zeros((3, 3), np.uint8), torch.ones(1), (torch.ones(2), torch.ones(3)), 1, 0,
                           None, ref, None)
    found = list(transfer._tensors(e))
    assert len(found) == 3 + 4                      # k, μ, λ and the reference's k, level, ẑ, hold
    assert transfer.hand_over(e) is e


@cuda
def test_cuda_round_trip_through_pinned_rings():
    dev = torch.device("cuda")
    for seed in range(2 * transfer.RING_SLOTS + 1):       # every slot reused at least once
        a = _frame(seed=seed)
        t = transfer.upload(a, dev)
        assert t.device.type == "cuda" and torch.equal(t.cpu(), torch.from_numpy(a))
        back = transfer.download(t * 1)
        assert np.array_equal(back, a)
        back[...] = 0                                  # the caller owns it: the ring is untouched
        assert np.array_equal(transfer.download(t), a)


@cuda
def test_cuda_side_stream_results_are_complete_when_run_returns():
    side = transfer.SideStream("cuda")
    assert side.stream is not None

    def work():
        x = torch.arange(1 << 20, device="cuda", dtype=torch.int64)
        return (x * 2 + 1).sum()

    out = transfer.hand_over(side.run(work))
    assert int(out) == (1 << 20) ** 2          # the sum of the first 2^20 odd numbers
