"""Batch norm folded into the convolution before it, only where that is provably the same function."""
from __future__ import annotations

import torch
from torch import nn

from camwidget.engine import folding


class Net(nn.Module):
    """conv→bn (foldable), conv→bn with the conv's output also used by a skip (not foldable),
    and a batch-norm subclass (its forward may do more: not folded)."""

    class BNAct(nn.BatchNorm2d):
        def forward(self, x):
            return torch.relu(super().forward(x))

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.conv3, self.bn3 = nn.Conv2d(4, 4, 1), Net.BNAct(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        y = self.conv2(x)
        x = self.bn2(y) + y
        x = self.bn3(self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))


def _net() -> Net:
    torch.manual_seed(0)
    net = Net()
    for bn in (net.bn1, net.bn2, net.bn3):  # non-trivial statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 2)
    return net.eval()


def test_only_provable_pairs_fold_and_the_copy_computes_the_same():
    net, x = _net(), torch.randn(2, 3, 12, 12)
    assert folding.foldable_pairs(net, x[:1]) == [("conv1", "bn1")]
    twin = folding.folded(net, x[:1])
    assert twin is not net and isinstance(twin.bn1, nn.Identity) and isinstance(net.bn1, nn.BatchNorm2d)
    with torch.no_grad():
        assert torch.allclose(twin(x), net(x), rtol=1e-5, atol=1e-6)
    assert folding.folded(net, x[:1], keep=["conv1"]) is None  # a conv whose output is captured stays
    # the copy follows the model's parameters
    with torch.no_grad():
        net.conv1.weight.mul_(2)
        assert torch.allclose(folding.folded(net, x[:1])(x), net(x), rtol=1e-5, atol=1e-6)
