"""percept_extraction: decode and percept-extractor throughput (frames/s) on this machine.

Rows (all measured in the same run, on generated 320x240 MPEG-4 AVIs like the embedded set):
- decode: our streaming decode (videolstm.video.decode.iter_frames: one thread per process,
  parallelism across videos) vs. PyAV with frame threading (thread_type AUTO) (baseline).
- pixels: the embedded default's whole RGB percept stage (decode in worker processes + central
  crop + downsample, streaming into the float16 array) vs. plain single-process decoding, i.e.
  how close the stage runs to the decoder's speed.
- vgg16_fc6: VGG16 up to fc6 (random weights of the real shapes; speed does not depend on their
  values) batched (ours) vs. one frame at a time (naive), on CPU; on a GPU also bf16 +
  channels_last vs. fp32 at the same batch (the issue's target: >= 8,000 frames/s on an H100).
- flow: OpenCV DIS flow at the embedded default's settings vs. decoding.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import compare, cuda_available, device_name, out_dir_arg, row, write_results  # noqa: E402

from videolstm.video import flow, percepts, synth  # noqa: E402
from videolstm.video.clips import Item, Items  # noqa: E402
from videolstm.video.decode import iter_frames  # noqa: E402

NAME = "percept_extraction"


def decode_all(paths: list[Path], threaded: bool) -> int:
    import av

    n = 0
    for p in paths:
        with av.open(str(p)) as c:
            s = c.streams.video[0]
            if threaded:
                s.thread_type = "AUTO"
            for f in c.decode(s):
                f.to_ndarray(format="rgb24")
                n += 1
    return n


def main() -> int:
    out = out_dir_arg()
    rows = []
    cpu = device_name("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ucf101"
        cfg = synth.SynthConfig(classes=4, groups=3, clips_per_group=1, seconds=2.4,
                                test_groups=1, seed=0)
        paths = [root / r for r in synth.generate("ucf101", root, cfg)]
        n = sum(1 for p in paths for _ in iter_frames(p))
        shape = f"{len(paths)} videos, {n} frames 240x320"
        t = compare({"ours": lambda: sum(1 for p in paths for _ in iter_frames(p)),
                     "base": lambda: decode_all(paths, True)}, repeats=3)
        rows.append(row(NAME, variant="decode", device=cpu, shape=shape, value=n / t["ours"],
                        unit="frames/s", better="higher", baseline="PyAV decode, frame threading AUTO",
                        baseline_value=n / t["base"]))

        items = Items([Item(p.stem, str(p)) for p in paths], [], "bench")
        ext = percepts.make_extractor(percepts.PerceptConfig(extractor="pixels", size=16))
        target = Path(tmp) / "rgb.npy"
        t = compare({"ours": lambda: percepts.extract(items, ext, target, {}, 64, workers=2,
                                                      log=lambda s: None),
                     "base": lambda: decode_all(paths, False)}, repeats=3, warmup=0)
        rows.append(row(NAME, variant="pixels 16x16x3, 2 decode workers", device=cpu,
                        shape=shape, value=n / t["ours"], unit="frames/s", better="higher",
                        baseline="PyAV decode only, 1 process", baseline_value=n / t["base"]))

        fc = flow.FlowConfig(preset="fast", scale=0.5, size=32)
        comp = flow.FlowComputer(fc)
        frames = [f for p in paths[:4] for f in iter_frames(p)]
        t = compare({"ours": lambda: comp.video(iter(frames)),
                     "base": lambda: decode_all(paths[:4], False)}, repeats=3)
        rows.append(row(NAME, variant="flow DIS fast, scale 0.5 (decoded frames)", device=cpu,
                        shape=f"{len(frames)} frames", value=len(frames) / t["ours"],
                        unit="frames/s", better="higher", baseline="PyAV decode, 1 process",
                        baseline_value=len(frames) / t["base"]))

    torch.manual_seed(0)
    model = percepts.build_vgg16().eval()
    model.classifier = model.classifier[:2]
    torch.set_num_threads(max(1, torch.get_num_threads()))
    batch = 8
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        t = compare({"ours": lambda: model.fc6(x),
                     "base": lambda: [model.fc6(x[i : i + 1]) for i in range(batch)]},
                    repeats=2, warmup=1)
    rows.append(row(NAME, variant="vgg16_fc6 fp32", device=cpu, shape=f"batch {batch} 224x224",
                    value=batch / t["ours"], unit="frames/s", better="higher",
                    baseline="one frame at a time", baseline_value=batch / t["base"]))

    if cuda_available():
        dev = torch.device("cuda")
        gmodel = model.to(dev).to(memory_format=torch.channels_last)
        gb = 256
        xg = torch.randn(gb, 3, 224, 224, device=dev).contiguous(memory_format=torch.channels_last)

        def bf16():
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                return gmodel.fc6(xg)

        def fp32():
            with torch.inference_mode():
                return gmodel.fc6(xg)

        t = compare({"ours": bf16, "base": fp32}, repeats=5, warmup=2, device=dev)
        rows.append(row(NAME, variant="vgg16_fc6 bf16 channels_last", device=device_name(dev),
                        shape=f"batch {gb} 224x224", value=gb / t["ours"], unit="frames/s",
                        better="higher", baseline="fp32, same batch",
                        baseline_value=gb / t["base"], note="target >= 8000 frames/s on H100"))
    write_results(NAME, rows, out)
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    sys.exit(code)
