"""Exactness of the LSTM layers: the fused peephole layer against torch.nn.LSTM, the naive
per-step reference and finite differences (gradcheck, float64)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from videolstm.lstm import PeepholeLSTM, StackedLSTM, TorchLSTM, naive_peephole_forward


def _random_peephole(layer: PeepholeLSTM, scale: float = 0.5) -> PeepholeLSTM:
    with torch.no_grad():
        layer.peephole.uniform_(-scale, scale)
        layer.bias.uniform_(-scale, scale)
    return layer


def test_equals_torch_lstm_at_zero_peepholes():
    torch.manual_seed(0)
    T, B, D, H = 7, 5, 6, 8
    ours = PeepholeLSTM(D, H)
    with torch.no_grad():
        ours.bias.uniform_(-0.5, 0.5)
    ref = torch.nn.LSTM(D, H)
    with torch.no_grad():  # same gate order (i, f, g, o); one bias, so bias_hh = 0
        ref.weight_ih_l0.copy_(ours.weight_ih)
        ref.weight_hh_l0.copy_(ours.weight_hh)
        ref.bias_ih_l0.copy_(ours.bias)
        ref.bias_hh_l0.zero_()
    x = torch.randn(T, B, D, requires_grad=True)
    h0, c0 = torch.randn(B, H), torch.randn(B, H)
    out, (h, c) = ours(x, (h0, c0))
    out_ref, (h_ref, c_ref) = ref(x, (h0[None], c0[None]))
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_ref[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(c, c_ref[0], atol=1e-5, rtol=0)
    # and the gradients
    (g_ours,) = torch.autograd.grad((out.sum() + c.sum()), x)
    (g_ref,) = torch.autograd.grad((out_ref.sum() + c_ref.sum()), x)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=0)
    gw = torch.autograd.grad(ours(x, (h0, c0))[0].square().sum(), ours.weight_hh)[0]
    out_ref2 = ref(x, (h0[None], c0[None]))[0]
    gw_ref = torch.autograd.grad(out_ref2.square().sum(), ref.weight_hh_l0)[0]
    torch.testing.assert_close(gw, gw_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("input_dim", [0, 3])
def test_gradcheck_double_with_peepholes(input_dim):
    torch.manual_seed(1)
    T, B, H = 4, 3, 5
    layer = _random_peephole(PeepholeLSTM(input_dim, H).double())
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    x = torch.randn(T, B, input_dim, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)

    def fn(x, h0, c0, *ps):
        out, (h, c) = functional_call(layer, dict(zip(names, ps, strict=True)), (x, (h0, c0)))
        return out, h, c

    assert torch.autograd.gradcheck(fn, (x, h0, c0, *params))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_fused_equals_naive_reference(dtype, tol):
    torch.manual_seed(2)
    T, B, D, H = 9, 4, 6, 7
    layer = _random_peephole(PeepholeLSTM(D, H).to(dtype))
    x = torch.randn(T, B, D, dtype=dtype)
    h0, c0 = torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype)
    w = torch.randn(T, B, H, dtype=dtype)

    def run(forward):
        out, (h, c) = forward(x, (h0, c0))
        loss = (out * w).sum() + 2 * h.sum() + 3 * c.square().sum()
        grads = torch.autograd.grad(loss, list(layer.parameters()))
        return [out, h, c, *grads]

    fused = run(layer)
    naive = run(lambda v, s: naive_peephole_forward(layer, v, s))
    for a, b in zip(fused, naive, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def test_unconditioned_input_dim_zero():
    torch.manual_seed(3)
    layer = _random_peephole(PeepholeLSTM(0, 4))
    h0, c0 = torch.randn(2, 4), torch.randn(2, 4)
    out, (h, c) = layer(torch.zeros(5, 2, 0), (h0, c0))
    assert out.shape == (5, 2, 4)
    ref, _ = naive_peephole_forward(layer, torch.zeros(5, 2, 0), (h0, c0))
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    assert layer.bias.grad is not None and layer.bias.grad.abs().sum() > 0
    # torch cell path too
    t_out, _ = TorchLSTM(0, 4)(torch.zeros(5, 2, 0), (h0, c0))
    assert t_out.shape == (5, 2, 4)


def test_step_matches_sequence():
    torch.manual_seed(4)
    layer = _random_peephole(PeepholeLSTM(3, 4))
    x = torch.randn(6, 2, 3)
    out, _ = layer(x)
    state = layer.zero_state(2, x)
    gx = layer.project(x)
    for t in range(6):
        state = layer.step(gx[t], state)
        torch.testing.assert_close(state[0], out[t])


@pytest.mark.parametrize("input_dim", [0, 8])
def test_bf16_autocast_keeps_fp32_state_and_stays_close(input_dim):
    torch.manual_seed(5)
    layer = _random_peephole(PeepholeLSTM(input_dim, 16), 0.1)
    x = torch.randn(5, 4, input_dim)
    state = (torch.randn(4, 16), torch.randn(4, 16))
    ref, _ = layer(x, state)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, (h, c) = layer(x, state)
    assert not torch.equal(out, ref)  # the recurrent matmul did run in bf16
    assert c.dtype == torch.float32 and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=3e-2, rtol=0)
    out.sum().backward()
    assert layer.weight_hh.grad.dtype == torch.float32


def test_zero_length_sequence():
    layer = PeepholeLSTM(3, 4)
    state = layer.zero_state(2, torch.zeros(1))
    out, s = layer(torch.zeros(0, 2, 3), state)
    assert out.shape == (0, 2, 4) and s is state


def test_stacked_dropout_only_between_layers():
    torch.manual_seed(6)
    stack = StackedLSTM(3, 4, layers=2).train()
    x = torch.randn(5, 2, 3)
    seen = []
    hooks = [
        layer.register_forward_pre_hook(lambda m, a: seen.append(a[0])) for layer in stack.layers
    ]
    out, states = stack(x, dropout=0.5)
    for h in hooks:
        h.remove()
    torch.testing.assert_close(seen[0], x)  # no dropout on the input of the first layer
    assert (seen[1] == 0).any()  # dropout between layers
    assert len(states) == 2
    # the recurrence is not dropped: one layer's state equals its own undropped forward
    lower_out, lower_state = stack.layers[0](x)
    torch.testing.assert_close(seen[1][seen[1] != 0], (2 * lower_out)[seen[1] != 0])
    torch.testing.assert_close(states[0][0], lower_state[0])
    # no dropout in eval mode
    stack.eval()
    out1, _ = stack(x, dropout=0.5)
    out2, _ = stack(x, dropout=0.5)
    torch.testing.assert_close(out1, out2)
    top_out, _ = stack.layers[1](stack.layers[0](x)[0])
    torch.testing.assert_close(out1, top_out)
    assert out.shape == (5, 2, 4)


@pytest.mark.parametrize("cell", ["peephole", "torch"])
def test_stacked_step_equals_forward(cell):
    torch.manual_seed(7)
    stack = StackedLSTM(3, 4, layers=2, cell=cell)
    x = torch.randn(4, 2, 3)
    out, final = stack(x)
    states = [(torch.zeros(2, 4), torch.zeros(2, 4))] * 2
    for t in range(4):
        y, states = stack.step(x[t], states)
        torch.testing.assert_close(y, out[t])
    torch.testing.assert_close(states[1][1], final[1][1])


def test_torch_cell_never_runs_in_float16_under_autocast():
    """Autocast sends RNNs to float16; the `torch` cell runs bf16 under bf16 autocast, float32
    under float16 autocast, the input's dtype without autocast, and its gradients reach the
    float32 parameters."""
    from videolstm.lstm import TorchLSTM

    torch.manual_seed(0)
    layer = TorchLSTM(4, 3)
    x = torch.randn(5, 2, 4)
    want, _ = layer(x)
    assert want.dtype == torch.float32
    for dtype, expect in ((torch.bfloat16, torch.bfloat16), (torch.float16, torch.float32)):
        with torch.autocast("cpu", dtype=dtype):
            out, (h, c) = layer(x)
        assert out.dtype == expect
        torch.testing.assert_close(out.float(), want, atol=3e-2 if expect == torch.bfloat16 else 0, rtol=0)
        layer.zero_grad()
        out.float().square().sum().backward()
        assert layer.lstm.weight_hh_l0.grad is not None and layer.lstm.weight_hh_l0.grad.dtype == torch.float32
