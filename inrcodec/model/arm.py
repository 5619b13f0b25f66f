"""Float ARM: a small MLP from a latent's causal neighbours to Laplace (mu, log_scale).

Only used while fitting (and in tests as the reference for the integer ARM). At coding time the
same weights run in fixed point in entropy/int_arm.py.
"""
from __future__ import annotations

import torch
from torch import nn

from ..arch import Architecture
from ..entropy.laplace import LOG_SCALE_MAX, LOG_SCALE_MIN


# The log-scale output's bias at the start: scale e^-4, so at step 0 a zero latent costs ~0 bits
# instead of ~1.35 (scale 1), and the first steps are not spent removing a phantom rate of
# ~1.35 bits per latent (issue 32, item 2: on top of the Gaussian proxy, RD cost -0.4 %, 8 of 12
# paired points better, benchmarks/results/tuning_fit_train256_proxy_init.md). LOG_SCALE_MIN is
# -4 too: the clamp passes the gradient at its bound.
INITIAL_LOG_SCALE = -4.0


class Arm(nn.Module):
    def __init__(self, arch: Architecture, in_features: int | None = None):
        """in_features: context size (default arch.arm_inputs; video adds previous-frame inputs)."""
        super().__init__()
        widths = [in_features or arch.arm_inputs, *arch.arm_hidden, 2]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        # inter-grid features (issue 32, item 3): level l < arch.ifce_levels maps the co-located
        # latents of its arch.ifce_sources(l) coarser grids to arch.ifce_features more inputs
        self.ifce = nn.ModuleList(nn.Linear(arch.ifce_sources(level), arch.ifce_features)
                                  for level in range(arch.ifce_levels))
        with torch.no_grad():
            self.layers[-1].weight.mul_(0.1)
            self.layers[-1].bias.zero_()
            self.layers[-1].bias[1] = INITIAL_LOG_SCALE

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
