import torch
from torch import nn
from torch.utils.data import TensorDataset

from fgssl.evaluate.monitors import KNNMonitor


class _Method(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone


def _images(n: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=generator)
    return TensorDataset(images, torch.arange(n) % 4)


def test_the_knn_monitor_reports_the_features_effective_rank():
    data = _images(40)
    torch.manual_seed(0)
    spread = KNNMonitor(data, data)(_Method(nn.Sequential(nn.Flatten(), nn.Linear(192, 16))),
                                    torch.device("cpu"))
    constant = nn.Sequential(nn.Flatten(), nn.Linear(192, 16))
    nn.init.zeros_(constant[1].weight)  # every image the same features: collapsed
    collapsed = KNNMonitor(data, data)(_Method(constant), torch.device("cpu"))
    assert spread["feature_rank"] > 8 and collapsed["feature_rank"] == 1.0
    assert spread["knn_top1"] == 1.0  # each query finds itself in the bank
