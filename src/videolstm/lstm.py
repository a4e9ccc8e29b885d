"""LSTM layers: the paper's peephole LSTM and a fast `torch.nn.LSTM` path without peepholes.

Peephole LSTM (Graves 2013; paper eq. 1-5), gates in torch's order (i, f, g, o):

    i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + w_ci * c_{t-1} + b_i)
    f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + w_cf * c_{t-1} + b_f)
    c_t = f_t * c_{t-1} + i_t * tanh(W_xc x_t + W_hc h_{t-1} + b_c)
    o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + w_co * c_t + b_o)
    h_t = o_t * tanh(c_t)

The peepholes w_c* are diagonal (vectors). The input projection of all time steps is one matmul;
the recurrence then costs one (B, H) x (H, 4H) matmul per step. The cell state is kept in float32
under autocast. Tensors are time-first: (T, B, D).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]


def init_uniform_(weight: Tensor, scheme: str, fan_in: int, authors_scale: float = 0.01) -> None:
    """'paper': U(-1/sqrt(fan_in), 1/sqrt(fan_in)); 'authors': U(-0.01, 0.01) as in their code."""
    with torch.no_grad():
        if scheme == "paper":
            bound = 1.0 / math.sqrt(max(fan_in, 1))
        elif scheme == "authors":
            bound = authors_scale
        else:
            raise ValueError(f"unknown init scheme {scheme!r} (use 'paper' or 'authors')")
        weight.uniform_(-bound, bound)


def _peephole_cell(gates: Tensor, c: Tensor, peep: Tensor) -> State:
    """Gate arithmetic of one step, given the summed pre-activations (B, 4H)."""
    gi, gf, gg, go = gates.float().chunk(4, dim=-1)
    i = torch.sigmoid(gi + peep[0] * c)
    f = torch.sigmoid(gf + peep[1] * c)
    c_new = f * c + i * torch.tanh(gg)
    o = torch.sigmoid(go + peep[2] * c_new)
    h = o * torch.tanh(c_new)
    return h, c_new


class PeepholeLSTM(nn.Module):
    """One peephole LSTM layer. `input_dim` may be 0 (an unconditioned decoder has no input)."""

    def __init__(self, input_dim: int, hidden: int, init: str = "paper") -> None:
        super().__init__()
        self.input_dim, self.hidden = input_dim, hidden
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden, input_dim))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden, hidden))
        self.bias = nn.Parameter(torch.zeros(4 * hidden))
        self.peephole = nn.Parameter(torch.zeros(3, hidden))  # w_ci, w_cf, w_co
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "paper") -> None:
        init_uniform_(self.weight_ih, init, self.input_dim)
        init_uniform_(self.weight_hh, init, self.hidden)
        nn.init.zeros_(self.bias)
        if init == "authors":
            init_uniform_(self.peephole, "authors", self.hidden, authors_scale=0.1)
        else:
            nn.init.zeros_(self.peephole)

    def zero_state(self, batch: int, ref: Tensor) -> State:
        z = torch.zeros(batch, self.hidden, device=ref.device, dtype=torch.float32)
        return z, z

    def project(self, x: Tensor) -> Tensor:
        """Input projection of every step at once: (T, B, D) -> (T, B, 4H), bias included."""
        if self.input_dim == 0:
            return self.bias.expand(x.shape[0], x.shape[1], -1)
        return torch.addmm(self.bias, x.reshape(-1, self.input_dim), self.weight_ih.t()).view(
            x.shape[0], x.shape[1], -1
        )

    def step(self, gx: Tensor, state: State) -> State:
        """One step from the precomputed input projection gx (B, 4H)."""
        h, c = state
        gates = gx + h.to(gx.dtype) @ self.weight_hh.t().to(gx.dtype)
        return _peephole_cell(gates, c, self.peephole)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if state is None:
            state = self.zero_state(x.shape[1], x)
        gx = self.project(x)
        outputs = []
        for t in range(x.shape[0]):
            state = self.step(gx[t], state)
            outputs.append(state[0])
        return torch.stack(outputs), state


class TorchLSTM(nn.Module):
    """`torch.nn.LSTM` layer (cuDNN on GPU; no peepholes), same interface as PeepholeLSTM."""

    def __init__(self, input_dim: int, hidden: int, init: str = "paper") -> None:
        super().__init__()
        self.input_dim, self.hidden = input_dim, hidden
        # torch.nn.LSTM cannot take an empty input: an unconditioned decoder gets one zero input
        self.lstm = nn.LSTM(max(input_dim, 1), hidden)
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "paper") -> None:
        init_uniform_(self.lstm.weight_ih_l0, init, self.input_dim)
        init_uniform_(self.lstm.weight_hh_l0, init, self.hidden)
        nn.init.zeros_(self.lstm.bias_ih_l0)
        nn.init.zeros_(self.lstm.bias_hh_l0)

    def zero_state(self, batch: int, ref: Tensor) -> State:
        z = torch.zeros(batch, self.hidden, device=ref.device, dtype=torch.float32)
        return z, z

    def _input(self, x: Tensor) -> Tensor:
        return x if self.input_dim else x.new_zeros(x.shape[0], x.shape[1], 1)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if state is None:
            state = self.zero_state(x.shape[1], x)
        h, c = state
        out, (h, c) = self.lstm(self._input(x), (h[None].to(x.dtype), c[None].to(x.dtype)))
        return out, (h[0], c[0])


CELLS = {"peephole": PeepholeLSTM, "torch": TorchLSTM}


class StackedLSTM(nn.Module):
    """Layers of LSTMs; dropout (if any) acts between layers, never through time (Zaremba 2014)."""

    def __init__(
        self, input_dim: int, hidden: int, layers: int, cell: str = "peephole", init: str = "paper"
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}")
        self.input_dim, self.hidden, self.num_layers, self.cell = input_dim, hidden, layers, cell
        dims = [input_dim] + [hidden] * (layers - 1)
        self.layers = nn.ModuleList(CELLS[cell](d, hidden, init) for d in dims)

    def forward(
        self, x: Tensor, states: list[State] | None = None, dropout: float = 0.0
    ) -> tuple[Tensor, list[State]]:
        new_states = []
        for k, layer in enumerate(self.layers):
            if k > 0 and dropout > 0:
                x = nn.functional.dropout(x, dropout, self.training)
            x, s = layer(x, None if states is None else states[k])
            new_states.append(s)
        return x, new_states

    def step(self, x: Tensor, states: list[State]) -> tuple[Tensor, list[State]]:
        """One time step for all layers: x (B, D) -> top output (B, H)."""
        out, new_states = self.forward(x[None], states)
        return out[0], new_states
