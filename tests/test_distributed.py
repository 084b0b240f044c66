import torch

from fgssl import distributed
from tests.gloo import on_two_ranks


def _loss(rows: torch.Tensor) -> torch.Tensor:
    """A loss that mixes every row with every other (as SimCLR's negatives do)."""
    return (rows @ rows.T).softmax(1).log().diagonal().sum()


def _gather_on_rank(rank: int, world: int) -> dict:
    rows = torch.arange(12, dtype=torch.float64).view(6, 2).sin()[rank * 3:(rank + 1) * 3]
    rows.requires_grad_(True)
    gathered, offset = distributed.gather_with_grad(rows)
    _loss(gathered).backward()  # each rank's loss: the same, over the whole batch
    return {"gathered": gathered.detach(), "offset": torch.tensor(offset), "grad": rows.grad,
            "initialised": torch.tensor(distributed.initialised())}


def test_gather_with_grad_gives_each_rank_its_rows_gradient_of_the_whole_batch(tmp_path):
    whole = torch.arange(12, dtype=torch.float64).view(6, 2).sin().requires_grad_(True)
    _loss(whole).backward()
    ranks = on_two_ranks(_gather_on_rank, tmp_path)
    for rank, got in enumerate(ranks):
        torch.testing.assert_close(got["gathered"], whole.detach())
        assert int(got["offset"]) == rank * 3 and bool(got["initialised"])
        # both ranks' losses reach each rank's rows: twice the whole batch's gradient, which
        # DDP's average over the 2 ranks brings back
        torch.testing.assert_close(got["grad"] / 2, whole.grad[rank * 3:(rank + 1) * 3])
    assert not distributed.initialised()
