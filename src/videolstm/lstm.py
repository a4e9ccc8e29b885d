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

import contextlib
import math

import torch
import torch.nn.functional as F
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


def _no_autocast(device_type: str):
    """Autocast off inside the fused recurrence (meta tensors, used to count FLOPs, have none)."""
    return contextlib.nullcontext() if device_type == "meta" else torch.autocast(device_type, enabled=False)


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    """Cell state and gate arithmetic dtype: float32 under bf16/fp16 autocast, else the input's."""
    return torch.promote_types(dtype, torch.float32)


class _PeepholeSequence(torch.autograd.Function):
    """The whole recurrence of one layer as ONE autograd node, with a hand-written backward.

    Forward, per step: one addmm (B, H) x (H, 4H) into a preallocated gate buffer, then ten
    in-place elementwise ops (both sigmoid gates i, f in one op); no autograd graph is recorded.

    Backward: every factor that does not depend on the incoming gradient is computed for ALL steps
    at once before the loop (big vectorised ops), which leaves per step one (B, 4H) x (4H, H)
    matmul and six elementwise ops. The weight gradient of all steps is then ONE
    (4H, T*B) x (T*B, H) matmul and each peephole gradient one reduction, instead of T thin
    matmuls and ~25 autograd nodes per step. With a = pre-activations, i, f, g, o = activations,
    c_prev / c the cell state before / after the step, tc = tanh(c):

        P = [g i(1-i), c_prev f(1-f), i (1-g^2), tc o(1-o)]
        dgates = [dc~ P_i, dc~ P_f, dc~ P_g, dh P_o]
        dc~ = dc + dh o (1-tc^2) + dgates_o w_co
        dc_prev = dc~ (f + P_i w_ci + P_f w_cf),   dh_prev = dgates W_hh

    Matmuls run in the dtype of gx (bf16 under autocast); the gate arithmetic and the cell state in
    float32 (float64 when the input is float64, as in gradcheck).
    """

    @staticmethod
    def forward(
        ctx, gx: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, peephole: Tensor,
        mdt: torch.dtype,
    ):
        with _no_autocast(gx.device.type):
            n_steps, batch, four_h = gx.shape
            hidden = four_h // 4
            sdt = _state_dtype(mdt)
            w_t = weight_hh.to(mdt).t()
            peep = peephole.to(sdt)
            peep_if = peep[:2]
            peep_o = peep[2]
            acts = gx.new_empty((n_steps, batch, four_h), dtype=sdt)
            cs = gx.new_empty((n_steps + 1, batch, hidden), dtype=sdt)
            tcs = gx.new_empty((n_steps, batch, hidden), dtype=sdt)
            out = gx.new_empty((n_steps, batch, hidden), dtype=sdt)
            cs[0] = c0
            h = h0.to(sdt)
            for t in range(n_steps):
                a = acts[t]
                if mdt == sdt and gx.dtype == sdt:
                    torch.addmm(gx[t], h, w_t, out=a)
                else:
                    a.copy_(gx[t]).add_(h.to(mdt) @ w_t)
                a4 = a.view(batch, 4, hidden)
                c_prev, c = cs[t], cs[t + 1]
                gates_if = a4[:, :2]
                gates_if.addcmul_(c_prev.unsqueeze(1), peep_if).sigmoid_()
                g = a4[:, 2].tanh_()
                torch.mul(a4[:, 1], c_prev, out=c).addcmul_(a4[:, 0], g)
                o = a4[:, 3].addcmul_(c, peep_o).sigmoid_()
                h = torch.mul(o, torch.tanh(c, out=tcs[t]), out=out[t])
            ctx.save_for_backward(weight_hh, peephole, h0.to(sdt), acts, cs, tcs, out)
            ctx.mdt, ctx.gx_dtype, ctx.h0_dtype, ctx.c0_dtype = mdt, gx.dtype, h0.dtype, c0.dtype
            return out, out[-1].clone(), cs[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout: Tensor | None, dh_last: Tensor | None, dc_last: Tensor | None):
        weight_hh, peephole, h0, acts, cs, tcs, out = ctx.saved_tensors
        with _no_autocast(out.device.type):
            mdt, sdt = ctx.mdt, out.dtype
            n_steps, batch, hidden = out.shape
            w = weight_hh.to(mdt)
            peep = peephole.to(sdt)
            # step-independent factors, vectorised over all steps
            a4 = acts.view(n_steps, batch, 4, hidden)
            i, f, g, o = a4.unbind(2)
            c_prev, c = cs[:-1], cs[1:]
            dsig = torch.addcmul(acts, acts, acts, value=-1).view(n_steps, batch, 4, hidden)
            p = torch.empty_like(a4)
            torch.mul(g, dsig[:, :, 0], out=p[:, :, 0])
            torch.mul(c_prev, dsig[:, :, 1], out=p[:, :, 1])
            torch.mul(i, torch.addcmul(torch.ones_like(g), g, g, value=-1), out=p[:, :, 2])
            torch.mul(tcs, dsig[:, :, 3], out=p[:, :, 3])
            q = o * torch.addcmul(torch.ones_like(tcs), tcs, tcs, value=-1)
            r = f.addcmul(p[:, :, 0], peep[0]).addcmul_(p[:, :, 1], peep[1])
            p_ifg, p_o, peep_o = p[:, :, :3], p[:, :, 3], peep[2]
            del dsig, i, f, g, o

            dgx = torch.empty_like(acts)
            d4 = dgx.view(n_steps, batch, 4, hidden)
            dh = torch.zeros_like(out[0]) if dh_last is None else dh_last.to(sdt)
            dc = torch.zeros_like(out[0]) if dc_last is None else dc_last.to(sdt)
            for t in range(n_steps - 1, -1, -1):
                if dout is not None:
                    dh = dh + dout[t]
                dao = torch.mul(dh, p_o[t], out=d4[t, :, 3])
                dct = torch.addcmul(dc, dh, q[t]).addcmul_(dao, peep_o)
                torch.mul(p_ifg[t], dct.unsqueeze(1), out=d4[t, :, :3])
                dc = dct.mul_(r[t])
                dh = dgx[t] @ w if mdt == sdt else (dgx[t].to(mdt) @ w).to(sdt)

            d_w = d_peep = None
            if ctx.needs_input_grad[3]:
                h_prev = torch.cat([h0[None], out[:-1]]).view(-1, hidden).to(mdt)
                d_w = (dgx.view(-1, 4 * hidden).to(mdt).t() @ h_prev).to(weight_hh.dtype)
            if ctx.needs_input_grad[4]:
                d_peep = torch.stack(
                    [
                        (d4[:, :, 0] * c_prev).sum((0, 1)),
                        (d4[:, :, 1] * c_prev).sum((0, 1)),
                        (d4[:, :, 3] * c).sum((0, 1)),
                    ]
                ).to(peephole.dtype)
            dgx = dgx.to(ctx.gx_dtype)
            return dgx, dh.to(ctx.h0_dtype), dc.to(ctx.c0_dtype), d_w, d_peep, None


def _matmul_dtype(gx: Tensor) -> torch.dtype:
    """bf16/fp16 when autocast is on for gx's device (also for an input-less layer), else gx's."""
    device = gx.device.type
    if device == "meta":  # shape-only runs (videolstm plan counts FLOPs this way): no autocast
        return gx.dtype
    if gx.dtype.is_floating_point and gx.dtype != torch.float64:
        if torch.is_autocast_enabled(device):
            return torch.get_autocast_dtype(device)
    return gx.dtype


def naive_peephole_forward(layer: PeepholeLSTM, x: Tensor, state: State | None = None):
    """Reference implementation: plain per-step autograd ops, same parameters as `layer`.

    Kept for the tests (the fused path must equal it) and the benchmarks (its baseline).
    """
    if state is None:
        state = layer.zero_state(x.shape[1], x)
    h, c = state
    gx = layer.project(x)
    outputs = []
    for t in range(x.shape[0]):
        gates = (gx[t] + h.to(gx.dtype) @ layer.weight_hh.t().to(gx.dtype)).to(c.dtype)
        gi, gf, gg, go = gates.chunk(4, dim=-1)
        i = torch.sigmoid(gi + layer.peephole[0] * c)
        f = torch.sigmoid(gf + layer.peephole[1] * c)
        c = f * c + i * torch.tanh(gg)
        o = torch.sigmoid(go + layer.peephole[2] * c)
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), (h, c)


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
        z = torch.zeros(batch, self.hidden, device=ref.device, dtype=_state_dtype(ref.dtype))
        return z, z

    def project(self, x: Tensor) -> Tensor:
        """Input projection of every step at once: (T, B, D) -> (T, B, 4H), bias included."""
        if self.input_dim == 0:
            return self.bias.expand(x.shape[0], x.shape[1], -1)
        # F.linear takes the weight itself, not a transposed view: autocast caches its bf16 copy
        # for the whole forward (a view is cast again at every call, e.g. every decoding step)
        return F.linear(x, self.weight_ih, self.bias)

    def step(self, gx: Tensor, state: State) -> State:
        """One step from the precomputed input projection gx (B, 4H)."""
        _, h, c = _PeepholeSequence.apply(
            gx[None], state[0], state[1], self.weight_hh, self.peephole, _matmul_dtype(gx)
        )
        return h, c

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if state is None:
            state = self.zero_state(x.shape[1], x)
        if x.shape[0] == 0:
            return x.new_zeros(0, x.shape[1], self.hidden, dtype=state[0].dtype), state
        gx = self.project(x)
        out, h, c = _PeepholeSequence.apply(
            gx, state[0], state[1], self.weight_hh, self.peephole, _matmul_dtype(gx)
        )
        return out, (h, c)


def torch_cell_dtype(x: Tensor) -> torch.dtype:
    """The `torch` cell's compute dtype: bf16 under bf16 autocast, never float16 (autocast's
    choice for RNNs), else x's float dtype."""
    device = x.device.type
    if device != "meta" and torch.is_autocast_enabled(device):
        return torch.bfloat16 if torch.get_autocast_dtype(device) == torch.bfloat16 else torch.float32
    return x.dtype if x.dtype.is_floating_point else torch.float32


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
        # autocast would run cuDNN's LSTM in float16 whatever autocast's dtype (and without a
        # loss scaler here): instead it runs in bf16 under bf16 autocast (amp: true) and in
        # float32 otherwise, with the weights cast differentiably
        dtype = torch_cell_dtype(x)
        with _no_autocast(x.device.type):
            weights = {k: v.to(dtype) for k, v in self.lstm.named_parameters()}
            out, (h, c) = torch.func.functional_call(
                self.lstm, weights, (self._input(x).to(dtype), (h[None].to(dtype), c[None].to(dtype))))
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
