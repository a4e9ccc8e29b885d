"""The LSTM encoder-decoder family of the paper (section 2) and the lab report's ConvLSTM.

An encoder LSTM reads the input frames; its final state (every layer's h and c) is the
representation and initialises the decoder(s). The reconstruction decoder emits the input in
REVERSE order; the future decoder emits the frames that follow. A conditional decoder gets the
previous frame as input (zeros at the first step): the ground truth during training (teacher
forcing), its own output at test time. An unconditioned decoder gets no input at all.

    variant            reconstruction   future
    autoencoder        unconditioned    -
    future             -                unconditioned
    cond_autoencoder   conditional      -
    cond_future        -                conditional
    composite          unconditioned    unconditioned
    composite_cond     unconditioned    conditional
    convlstm           ConvLSTM encoder-decoder reconstructing (lab report)

Outputs are logits: sigmoid + Bernoulli cross entropy for MNIST, linear + squared error for
patches and percepts. Losses are summed over the dimensions of a frame and averaged over frames
and sequences ("per frame").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videolstm.lstm import StackedLSTM, State, init_uniform_


@dataclass
class ModelConfig:
    input_dim: int
    hidden: int = 128
    layers: int = 2
    cell: str = "peephole"  # peephole (paper) | torch (cuDNN, no peepholes)
    init: str = "paper"  # paper: U(+-1/sqrt(fan_in)) | authors: U(+-0.01), peepholes U(+-0.1)
    output: str = "sigmoid"  # sigmoid (Bernoulli cross entropy) | linear (squared error)
    n_in: int = 10
    n_recon: int = 10
    n_future: int = 10
    image_size: int = 64  # ConvLSTM only: frames are image_size x image_size, one channel
    conv_channels: int = 16
    conv_kernel: int = 5
    conv_patch: int = 4  # space-to-depth factor of the ConvLSTM

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


# (reconstruction decoder, future decoder): None, "uncond" or "cond"
VARIANT_DECODERS: dict[str, tuple[str | None, str | None]] = {
    "autoencoder": ("uncond", None),
    "future": (None, "uncond"),
    "cond_autoencoder": ("cond", None),
    "cond_future": (None, "cond"),
    "composite": ("uncond", "uncond"),
    "composite_cond": ("uncond", "cond"),
}

VARIANT_TITLES = {
    "autoencoder": "Autoencoder",
    "future": "Future Predictor",
    "cond_autoencoder": "Conditional Autoencoder",
    "cond_future": "Conditional Future Predictor",
    "composite": "Composite Model",
    "composite_cond": "Composite Model with Conditional Future Predictor",
    "convlstm": "ConvLSTM Autoencoder",
}


class Encoder(nn.Module):
    """The encoder LSTM: (T, B, D) -> top-layer outputs (T, B, H) and the final state of each layer."""

    def __init__(
        self, input_dim: int, hidden: int, layers: int, cell: str = "peephole", init: str = "paper"
    ) -> None:
        super().__init__()
        self.lstm = StackedLSTM(input_dim, hidden, layers, cell, init)

    def forward(self, x: Tensor, dropout: float = 0.0) -> tuple[Tensor, list[State]]:
        return self.lstm(x, None, dropout)


class Decoder(nn.Module):
    """LSTM decoder initialised from the encoder's state, with a per-step output layer."""

    def __init__(self, cfg: ModelConfig, conditional: bool) -> None:
        super().__init__()
        self.conditional = conditional
        in_dim = cfg.input_dim if conditional else 0
        self.lstm = StackedLSTM(in_dim, cfg.hidden, cfg.layers, cfg.cell, cfg.init)
        self.readout = nn.Linear(cfg.hidden, cfg.input_dim)
        init_uniform_(self.readout.weight, cfg.init, cfg.hidden)
        nn.init.zeros_(self.readout.bias)
        self.output = cfg.output

    def emit(self, logits: Tensor) -> Tensor:
        """What the model 'shows' for its logits: probabilities for sigmoid, values for linear."""
        return torch.sigmoid(logits) if self.output == "sigmoid" else logits

    def forward(
        self, states: list[State], n_steps: int, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Decode n_steps. `targets` (n_steps, B, D) means teacher forcing (conditional only).

        Returns logits (n_steps, B, D) and the top layer's hidden outputs (n_steps, B, H).
        """
        h0 = states[0][0]
        batch = h0.shape[0]
        if not self.conditional:
            empty = h0.new_zeros(n_steps, batch, 0)
            hidden, _ = self.lstm(empty, states)
            return self.readout(hidden), hidden
        if targets is None and torch.is_grad_enabled():
            # own outputs fed back, in training: the fed outputs are detached, so a gradient-free
            # rollout finds them and one batched pass over them gives the same values and
            # gradients as feeding them step by step, at the cost of teacher forcing
            with torch.no_grad():
                targets = self.emit(self._rollout(states, n_steps)[0])
        if targets is not None:  # previous frame (ground truth or own output), zeros first
            prev = torch.cat([torch.zeros_like(targets[:1]), targets[:-1]], dim=0)
            hidden, _ = self.lstm(prev, states)
            return self.readout(hidden), hidden
        return self._rollout(states, n_steps)

    def _rollout(self, states: list[State], n_steps: int) -> tuple[Tensor, Tensor]:
        """Step by step, each step fed the previous step's (detached) output, zeros first."""
        x = states[0][0].new_zeros(states[0][0].shape[0], self.readout.out_features)
        logits, hiddens = [], []
        for _ in range(n_steps):
            h, states = self.lstm.step(x, states)
            out = self.readout(h)
            logits.append(out)
            hiddens.append(h)
            x = self.emit(out).detach()
        return torch.stack(logits), torch.stack(hiddens)


def frame_losses(logits: Tensor, target: Tensor, output: str,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """Per-frame losses (T, B): Bernoulli cross entropy (sigmoid outputs) or squared error
    (linear outputs) summed over a frame's dimensions, computed in `dtype` (evaluation: float64)."""
    if output == "sigmoid":
        per = F.binary_cross_entropy_with_logits(logits.to(dtype), target.to(dtype),
                                                 reduction="none")
    else:
        per = (logits.to(dtype) - target.to(dtype)) ** 2
    return per.sum(-1)


def frame_loss(logits: Tensor, target: Tensor, output: str) -> Tensor:
    """Loss summed over a frame's dimensions, averaged over frames and sequences."""
    return frame_losses(logits, target, output).mean()


class Seq2Seq(nn.Module):
    """Encoder plus reconstruction and/or future decoders, per VARIANT_DECODERS."""

    def __init__(self, variant: str, cfg: ModelConfig) -> None:
        super().__init__()
        self.variant, self.cfg = variant, cfg
        recon, future = VARIANT_DECODERS[variant]
        self.encoder = Encoder(cfg.input_dim, cfg.hidden, cfg.layers, cfg.cell, cfg.init)
        self.recon = Decoder(cfg, recon == "cond") if recon else None
        self.future = Decoder(cfg, future == "cond") if future else None

    def recon_target(self, x_in: Tensor) -> Tensor:
        """The last n_recon input frames, in reverse order."""
        return x_in.flip(0)[: self.cfg.n_recon]

    def forward(
        self, x_in: Tensor, x_future: Tensor | None = None, teacher_forcing: bool = False,
        n_future: int | None = None,
    ) -> dict[str, Tensor]:
        """x_in (n_in, B, D). Teacher forcing needs the targets (x_future for the future decoder)."""
        _, states = self.encoder(x_in)
        out: dict[str, Tensor] = {}
        if self.recon is not None:
            tgt = self.recon_target(x_in) if teacher_forcing else None
            out["recon"], out["recon_hidden"] = self.recon(states, self.cfg.n_recon, tgt)
        if self.future is not None:
            steps = n_future or self.cfg.n_future
            tgt = x_future if teacher_forcing else None
            out["future"], out["future_hidden"] = self.future(states, steps, tgt)
        return out

    def losses(
        self, x_in: Tensor, x_future: Tensor, teacher_forcing: bool = True
    ) -> dict[str, Tensor]:
        """Per-frame losses of each decoder and their sum ('total')."""
        out = self(x_in, x_future, teacher_forcing)
        result: dict[str, Tensor] = {}
        if "recon" in out:
            result["recon"] = frame_loss(out["recon"], self.recon_target(x_in), self.cfg.output)
        if "future" in out:
            result["future"] = frame_loss(out["future"], x_future, self.cfg.output)
        result["total"] = sum(result.values())
        return result

    def emit(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.cfg.output == "sigmoid" else logits


# ---------------------------------------------------------------------------------------------
# ConvLSTM (Shi et al. 2015), as compared in the lab report


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM with Hadamard peepholes on the cell state (lab report eq. 2.2)."""

    def __init__(self, in_ch: int, hid_ch: int, kernel: int, size: int) -> None:
        super().__init__()
        self.hid_ch = hid_ch
        self.conv_x = nn.Conv2d(in_ch, 4 * hid_ch, kernel, padding=kernel // 2) if in_ch else None
        self.conv_h = nn.Conv2d(hid_ch, 4 * hid_ch, kernel, padding=kernel // 2, bias=False)
        self.peephole = nn.Parameter(torch.zeros(3, hid_ch, size, size))
        self.bias = nn.Parameter(torch.zeros(4 * hid_ch, 1, 1))

    def forward(self, x: Tensor | None, state: State) -> State:
        h, c = state
        gates = self.conv_h(h) + self.bias
        if x is not None and self.conv_x is not None:
            gates = gates + self.conv_x(x)
        gi, gf, gg, go = gates.chunk(4, dim=1)
        i = torch.sigmoid(gi + self.peephole[0] * c)
        f = torch.sigmoid(gf + self.peephole[1] * c)
        c = f * c + i * torch.tanh(gg)
        o = torch.sigmoid(go + self.peephole[2] * c)
        return o * torch.tanh(c), c


class ConvLSTMAutoencoder(nn.Module):
    """ConvLSTM encoder-decoder reconstructing its input in reverse order (unconditioned decoder).

    Frames are folded space-to-depth by `conv_patch` so the recurrence runs on a coarse grid.
    """

    variant = "convlstm"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        p, size = cfg.conv_patch, cfg.image_size // cfg.conv_patch
        if size * p != cfg.image_size or cfg.image_size**2 != cfg.input_dim:
            raise ValueError("ConvLSTM needs square one-channel frames divisible by conv_patch")
        self.size = size
        self.enc = ConvLSTMCell(p * p, cfg.conv_channels, cfg.conv_kernel, size)
        self.dec = ConvLSTMCell(0, cfg.conv_channels, cfg.conv_kernel, size)
        self.readout = nn.Conv2d(cfg.conv_channels, p * p, 1)

    def _fold(self, x: Tensor) -> Tensor:  # (B, D) -> (B, p*p, s, s)
        img = x.view(-1, 1, self.cfg.image_size, self.cfg.image_size)
        return F.pixel_unshuffle(img, self.cfg.conv_patch)

    def _unfold(self, y: Tensor) -> Tensor:  # (B, p*p, s, s) -> (B, D)
        return F.pixel_shuffle(y, self.cfg.conv_patch).flatten(1)

    def recon_target(self, x_in: Tensor) -> Tensor:
        return x_in.flip(0)[: self.cfg.n_recon]

    def forward(self, x_in: Tensor, x_future: Tensor | None = None, teacher_forcing: bool = False,
                n_future: int | None = None) -> dict[str, Tensor]:
        b = x_in.shape[1]
        z = x_in.new_zeros(b, self.cfg.conv_channels, self.size, self.size, dtype=torch.float32)
        state = (z, z)
        for t in range(x_in.shape[0]):
            state = self.enc(self._fold(x_in[t]), state)
        outs = []
        for _ in range(self.cfg.n_recon):
            state = self.dec(None, state)
            outs.append(self._unfold(self.readout(state[0])))
        return {"recon": torch.stack(outs)}

    def losses(self, x_in: Tensor, x_future: Tensor, teacher_forcing: bool = True) -> dict[str, Tensor]:
        recon = frame_loss(self(x_in)["recon"], self.recon_target(x_in), self.cfg.output)
        return {"recon": recon, "total": recon}

    def emit(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.cfg.output == "sigmoid" else logits


def _seq2seq(variant: str) -> Callable[[ModelConfig], nn.Module]:
    return lambda cfg: Seq2Seq(variant, cfg)


# The one registry of model variants (the Snakemake/CLI names).
REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {
    **{name: _seq2seq(name) for name in VARIANT_DECODERS},
    "convlstm": ConvLSTMAutoencoder,
}


def build_model(variant: str, cfg: ModelConfig) -> nn.Module:
    if variant not in REGISTRY:
        raise ValueError(f"unknown model variant {variant!r}; choose one of {sorted(REGISTRY)}")
    return REGISTRY[variant](cfg)
