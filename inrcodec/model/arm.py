"""Float ARM: a small MLP from a latent's causal neighbours to Laplace (mu, log_scale).

Only used while fitting (and in tests as the reference for the integer ARM). At coding time the
same weights run in fixed point in entropy/int_arm.py.
"""
from __future__ import annotations

import torch
from torch import nn

from ..arch import Architecture
from ..entropy.laplace import LOG_SCALE_MAX, LOG_SCALE_MIN


class Arm(nn.Module):
    def __init__(self, arch: Architecture, in_features: int | None = None):
        """in_features: context size (default arch.arm_inputs; video adds previous-frame inputs)."""
        super().__init__()
        widths = [in_features or arch.arm_inputs, *arch.arm_hidden, 2]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        with torch.no_grad():
            self.layers[-1].weight.mul_(0.1)
            self.layers[-1].bias.zero_()

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = context
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        out = self.layers[-1](x)
        return out[:, 0], out[:, 1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)

    def forward_wide(self, context_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Same function on context-major input [in_features, n]: weight @ x matmuls, several
        times faster on CPU than x @ weight.T for these few-feature, many-row shapes."""
        x = context_t
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            x = torch.addmm(layer.bias.unsqueeze(1), layer.weight, x)
            if k < last:
                x = x.relu_()     # in place: addmm's backward does not need its output
        return x[0], x[1].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
