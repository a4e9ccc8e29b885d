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
