import pytest
import torch

from videolstm.models import REGISTRY, VARIANT_DECODERS, ModelConfig, build_model


def cfg(**kw):
    base = dict(input_dim=12, hidden=6, layers=2, n_in=5, n_recon=5, n_future=4, output="linear")
    return ModelConfig(**{**base, **kw})


def test_registry_has_every_variant_of_the_paper():
    assert set(REGISTRY) == {"autoencoder", "future", "cond_autoencoder", "cond_future",
                             "composite", "composite_cond", "convlstm"}
    with pytest.raises(ValueError, match="unknown model variant"):
        build_model("nope", cfg())


def test_reconstruction_target_is_the_input_reversed():
    m = build_model("autoencoder", cfg(n_recon=3))
    x = torch.arange(5.0)[:, None, None].expand(5, 2, 12)
    assert m.recon_target(x)[:, 0, 0].tolist() == [4.0, 3.0, 2.0]


@pytest.mark.parametrize("variant", sorted(VARIANT_DECODERS))
def test_output_shapes_and_loss(variant):
    torch.manual_seed(0)
    m = build_model(variant, cfg())
    x_in, x_fut = torch.randn(5, 3, 12), torch.randn(4, 3, 12)
    out = m(x_in, x_fut, teacher_forcing=True)
    recon, future = VARIANT_DECODERS[variant]
    assert ("recon" in out) == bool(recon) and ("future" in out) == bool(future)
    if future:
        assert out["future"].shape == (4, 3, 12)
    losses = m.losses(x_in, x_fut)
    assert torch.isclose(losses["total"], sum(v for k, v in losses.items() if k != "total"))
    losses["total"].backward()


def test_conditional_decoder_teacher_forcing_and_own_outputs():
    torch.manual_seed(0)
    m = build_model("cond_future", cfg())
    x_in, x_fut = torch.randn(5, 2, 12), torch.randn(4, 2, 12)
    tf = m(x_in, x_fut, teacher_forcing=True)["future"]
    changed = x_fut.clone()
    changed[1] += 1.0  # ground truth at step 1 feeds step 2 only
    tf2 = m(x_in, changed, teacher_forcing=True)["future"]
    assert torch.equal(tf[:2], tf2[:2]) and not torch.allclose(tf[2], tf2[2])
    # test mode: own outputs fed back, so the ground truth has no influence at all
    own = m(x_in, x_fut, teacher_forcing=False)["future"]
    assert torch.equal(own, m(x_in, changed, teacher_forcing=False)["future"])
    assert torch.allclose(own[0], tf[0], atol=1e-6)  # first step gets zeros in both modes
    assert not torch.allclose(own[1], tf[1])
    # teacher-forced step 1 equals feeding step 0's ground truth by hand
    _, states = m.encoder(x_in)
    h, states = m.future.lstm.step(torch.zeros(2, 12), states)
    h, _ = m.future.lstm.step(x_fut[0], states)
    assert torch.allclose(m.future.readout(h), tf[1], atol=1e-6)


@pytest.mark.parametrize("variant", ["cond_future", "composite_cond", "cond_autoencoder"])
def test_training_on_own_outputs_matches_feeding_them_step_by_step(variant):
    """teacher_forcing=False in training: the batched pass over a gradient-free rollout gives the
    values and gradients of the step-by-step loop (the fed outputs are detached in both)."""
    torch.manual_seed(0)
    m = build_model(variant, cfg(output="sigmoid"))
    x_in, x_fut = torch.rand(5, 3, 12), torch.rand(4, 3, 12)

    def grads(loss):
        m.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in m.parameters() if p.grad is not None]

    fast = m.losses(x_in, x_fut, teacher_forcing=False)
    g_fast = grads(fast["total"])
    _, states = m.encoder(x_in)
    ref = {}
    for name, dec, n in (("recon", m.recon, 5), ("future", m.future, 4)):
        if dec is not None:
            ref[name] = dec._rollout(states, n)[0] if dec.conditional else dec(states, n)[0]
    targets = {"recon": m.recon_target(x_in), "future": x_fut}
    from videolstm.models import frame_loss
    total = sum(frame_loss(v, targets[k], "sigmoid") for k, v in ref.items())
    assert torch.allclose(fast["total"], total, atol=1e-5)
    g_ref = grads(total)
    assert len(g_fast) == len(g_ref)
    for a, b in zip(g_fast, g_ref, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    # and it differs from teacher forcing (the ground truth is not what is fed)
    assert not torch.allclose(m.losses(x_in, x_fut, teacher_forcing=True)["total"], total)


def test_unconditioned_decoder_ignores_targets():
    torch.manual_seed(0)
    m = build_model("future", cfg())
    x_in = torch.randn(5, 2, 12)
    a = m(x_in, torch.randn(4, 2, 12), teacher_forcing=True)["future"]
    b = m(x_in, torch.randn(4, 2, 12), teacher_forcing=False)["future"]
    assert torch.equal(a, b)


def test_decoder_starts_from_the_encoder_state():
    torch.manual_seed(0)
    m = build_model("future", cfg())
    a = m(torch.randn(5, 2, 12))["future"]
    b = m(torch.randn(5, 2, 12))["future"]
    assert not torch.allclose(a, b)


def test_paper_and_authors_init():
    torch.manual_seed(0)
    paper = build_model("composite", cfg(input_dim=400, hidden=16, init="paper"))
    authors = build_model("composite", cfg(input_dim=400, hidden=16, init="authors"))
    w = paper.encoder.lstm.layers[0]
    assert w.weight_ih.abs().max() <= 1 / 400**0.5 and w.weight_ih.abs().max() > 0.8 / 400**0.5
    assert w.peephole.abs().sum() == 0 and w.bias.abs().sum() == 0
    a = authors.encoder.lstm.layers[0]
    assert a.weight_ih.abs().max() <= 0.01 and a.peephole.abs().max() > 0.05


def test_torch_cell_path_runs_every_variant():
    for variant in VARIANT_DECODERS:
        m = build_model(variant, cfg(cell="torch"))
        m.losses(torch.randn(5, 2, 12), torch.randn(4, 2, 12))["total"].backward()


def test_convlstm_autoencoder():
    m = build_model("convlstm", cfg(input_dim=64, image_size=8, conv_patch=2, conv_channels=3,
                                    conv_kernel=3, output="sigmoid"))
    x = torch.rand(5, 2, 64)
    out = m(x)["recon"]
    assert out.shape == (5, 2, 64)
    m.losses(x, x)["total"].backward()
