"""Many classifiers trained together: parameters stacked over a leading run dimension.

`LSTMBank` holds R independent LSTM classifiers of one architecture (input D, hidden H, L layers):
per layer W_ih (R, D, 4H), W_hh (R, H, 4H), bias (R, 4H), peepholes (R, 3, H) (the equations of
videolstm.lstm.PeepholeLSTM, gate order i, f, g, o), and a softmax layer (R, H, C), (R, C). The
weights are stored transposed (input side first), as the batched matmuls take them: their
gradients then come out contiguous, where a transposed view's had to be copied at every step. One
forward pass runs all R classifiers with batched matmuls (torch.bmm / baddbmm), each on its own
minibatch: x (R, T, B, D) (run first, then time-first) -> logits (R, T, B, C).

The runs never interact: the loss is the sum of per-run losses, so each run's gradient is its own;
the optimisers used here (Adam, SGD with momentum, element-wise clipping and weight decay) act
element-wise, so training R runs together gives the parameters of R separate trainings (tested).
Dropout masks come from one torch.Generator per run for the same reason.

`LinearBank` is the same for R multinomial logistic regressions (the single-frame baseline).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from videolstm.lstm import PeepholeLSTM, StackedLSTM, TorchLSTM


def layer_params(layer: nn.Module) -> dict[str, Tensor]:
    """Weights of one videolstm.lstm layer in peephole form (a torch cell has zero peepholes)."""
    if isinstance(layer, PeepholeLSTM):
        return {
            "w_ih": layer.weight_ih.detach(),
            "w_hh": layer.weight_hh.detach(),
            "bias": layer.bias.detach(),
            "peep": layer.peephole.detach(),
        }
    if isinstance(layer, TorchLSTM):
        m = layer.lstm
        return {
            "w_ih": m.weight_ih_l0.detach(),
            "w_hh": m.weight_hh_l0.detach(),
            "bias": (m.bias_ih_l0 + m.bias_hh_l0).detach(),
            "peep": m.weight_hh_l0.new_zeros(3, layer.hidden),
        }
    raise TypeError(f"unsupported LSTM layer {type(layer).__name__}")


class LSTMBank(nn.Module):
    """R LSTM classifiers with a softmax on the top layer at every step."""

    def __init__(
        self,
        runs: int,
        input_dim: int,
        hidden: int,
        layers: int,
        classes: int,
        peephole: bool = True,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        z = {"device": device}  # built where it trains: no host copy of a paper-scale bank
        self.runs, self.input_dim, self.hidden = runs, input_dim, hidden
        self.num_layers, self.classes, self.peephole = layers, classes, peephole
        self.w_ih = nn.ParameterList()
        self.w_hh = nn.ParameterList()
        self.bias = nn.ParameterList()
        self.peep = nn.ParameterList()
        for k in range(layers):
            d = input_dim if k == 0 else hidden
            self.w_ih.append(nn.Parameter(torch.zeros(runs, d, 4 * hidden, **z)))
            self.w_hh.append(nn.Parameter(torch.zeros(runs, hidden, 4 * hidden, **z)))
            self.bias.append(nn.Parameter(torch.zeros(runs, 4 * hidden, **z)))
            self.peep.append(nn.Parameter(torch.zeros(runs, 3, hidden, **z), requires_grad=peephole))
        self.head_w = nn.Parameter(torch.zeros(runs, hidden, classes, **z))
        self.head_b = nn.Parameter(torch.zeros(runs, classes, **z))

    # ---- initialisation -------------------------------------------------------------------
    @torch.no_grad()
    def load_lstm(self, r: int, lstm: StackedLSTM) -> None:
        """Copy a (pretrained or fresh) StackedLSTM's weights into run r."""
        if (lstm.input_dim, lstm.hidden, lstm.num_layers) != (
            self.input_dim, self.hidden, self.num_layers,
        ):
            raise ValueError(
                f"encoder shape (D={lstm.input_dim}, H={lstm.hidden}, L={lstm.num_layers}) does "
                f"not match the bank (D={self.input_dim}, H={self.hidden}, L={self.num_layers})"
            )
        for k, layer in enumerate(lstm.layers):
            p = layer_params(layer)
            self.w_ih[k][r].copy_(p["w_ih"].t())
            self.w_hh[k][r].copy_(p["w_hh"].t())
            self.bias[k][r].copy_(p["bias"])
            self.peep[k][r].copy_(p["peep"] if self.peephole else torch.zeros_like(p["peep"]))

    @torch.no_grad()
    def init_head(self, r: int, generator: torch.Generator, scheme: str = "paper") -> None:
        w = torch.empty(self.classes, self.hidden, device="cpu")  # seeded on the host: any device
        bound = self.hidden ** -0.5 if scheme == "paper" else 0.01
        w.uniform_(-bound, bound, generator=generator)
        self.head_w[r].copy_(w.t())
        self.head_b[r].zero_()

    # ---- forward -------------------------------------------------------------------------
    def _layer(self, k: int, gx: Tensor) -> Tensor:
        """Recurrence of layer k for all runs: gx (R, T, N, 4H) -> outputs (R, T, N, H)."""
        R, T, N, _ = gx.shape
        w_hh = self.w_hh[k]  # (R, H, 4H)
        peep = self.peep[k]
        p_i, p_f, p_o = peep[:, 0, None, :], peep[:, 1, None, :], peep[:, 2, None, :]
        h = gx.new_zeros(R, N, self.hidden)
        c = gx.new_zeros(R, N, self.hidden)
        outs = []
        # unbind, not gx[:, t]: indexing's backward writes a zero tensor of gx's whole size per
        # step (a quarter of a training step's time); unbind's backward is one stack
        for gx_t in gx.unbind(1):
            # (baddbmm is far slower on CPU)
            h, c = peephole_cell(gx_t + torch.bmm(h, w_hh), c, p_i, p_f, p_o)
            outs.append(h)
        return torch.stack(outs, dim=1)

    def _project(self, k: int, x: Tensor) -> Tensor:
        """Input projection of all steps: x (R, T, N, D) or shared (T, N, D) -> (R, T, N, 4H)."""
        w = self.w_ih[k]  # (R, D, 4H)
        if x.dim() == 3:  # the same input for every run (evaluation)
            T, N, D = x.shape
            out = torch.matmul(x.reshape(1, T * N, D), w)
        else:
            R, T, N, D = x.shape
            out = torch.bmm(x.reshape(R, T * N, D), w)
        out = out + self.bias[k][:, None, :]
        return out.view(self.runs, T, N, -1)

    def features(
        self, x: Tensor, dropout: float = 0.0, generators: list[torch.Generator] | None = None
    ) -> Tensor:
        """Top-layer outputs (R, T, N, H). Dropout between layers (and before the softmax)."""
        h = x
        for k in range(self.num_layers):
            if k > 0:
                h = self._dropout(h, dropout, generators)
            h = self._layer(k, self._project(k, h))
        return h

    def forward(
        self, x: Tensor, dropout: float = 0.0, generators: list[torch.Generator] | None = None
    ) -> Tensor:
        """Logits at every step (R, T, N, C)."""
        h = self._dropout(self.features(x, dropout, generators), dropout, generators)
        R, T, N, H = h.shape
        logits = torch.bmm(h.reshape(R, T * N, H), self.head_w)
        return logits.view(R, T, N, -1) + self.head_b[:, None, None, :]

    def _dropout(self, h: Tensor, p: float, generators) -> Tensor:
        return run_dropout(h, p, generators) if self.training else h


def peephole_cell(gates: Tensor, c: Tensor, p_i: Tensor, p_f: Tensor, p_o: Tensor
                  ) -> tuple[Tensor, Tensor]:
    """One step of videolstm.lstm.PeepholeLSTM's equations from the gate pre-activations
    (i, f, g, o): the new (h, c)."""
    gi, gf, gg, go = gates.chunk(4, dim=-1)
    i = torch.sigmoid(gi + p_i * c)
    f = torch.sigmoid(gf + p_f * c)
    c = f * c + i * torch.tanh(gg)
    o = torch.sigmoid(go + p_o * c)
    return o * torch.tanh(c), c


def run_dropout(h: Tensor, p: float, generators: list[torch.Generator] | None) -> Tensor:
    """Inverted dropout of (R, ...) activations, each run's mask from its own generator (draws
    nothing when p is 0, so a classifier without dropout trains exactly as before it existed)."""
    if p <= 0:
        return h
    keep = 1.0 - p
    masks = [
        torch.bernoulli(torch.full(h.shape[1:], keep, device=h.device), generator=g)
        for g in generators
    ]
    return h * torch.stack(masks) / keep


class LinearBank(nn.Module):
    """R multinomial logistic regressions: x (R, N, D) or shared (N, D) -> logits (R, N, C)."""

    def __init__(self, runs: int, input_dim: int, classes: int, device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.runs, self.input_dim, self.classes = runs, input_dim, classes
        self.weight = nn.Parameter(torch.zeros(runs, classes, input_dim, device=device))
        self.bias = nn.Parameter(torch.zeros(runs, classes, device=device))

    @torch.no_grad()
    def init_run(self, r: int, generator: torch.Generator) -> None:
        w = torch.empty(self.classes, self.input_dim, device="cpu")  # small weights; convex problem
        w.uniform_(-0.01, 0.01, generator=generator)
        self.weight[r].copy_(w)
        self.bias[r].zero_()

    def forward(
        self, x: Tensor, dropout: float = 0.0, generators: list[torch.Generator] | None = None
    ) -> Tensor:
        """Dropout on the input features in training (the paper: every classifier used dropout)."""
        if self.training and dropout > 0:
            x = run_dropout(x.expand(self.runs, *x.shape[-2:]), dropout, generators)
        w_t = self.weight.transpose(1, 2)
        out = torch.matmul(x[None], w_t) if x.dim() == 2 else torch.bmm(x, w_t)
        return out + self.bias[:, None, :]
