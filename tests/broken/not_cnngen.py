"""A plain PyTorch model written by hand: no INPUT_SHAPE, so not a cnngen file.

`cnngen verify` must say so in one line instead of guessing an input.
"""

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)
