# Video data and percepts (issue 3): embedded videos (when a dataset has no root), indexes from
# the official split files, unlabelled clips, image patches, RGB percepts, optical flow, the
# temporal-stream CNN and its flow percepts. Real data: set datasets.<name>.root (config/paper.yaml).

VIDEO_LABELLED = ["ucf101", "hmdb51"]
VIDEO_PERCEPT_DATASETS = VIDEO_LABELLED + ["unlabelled"]
VIDEO_DIR = f"{RESULTS}/data/videos"


wildcard_constraints:
    labelled="ucf101|hmdb51",
    synthset="ucf101|hmdb51|unlabelled",
    flowkind="flow|flowstack",
    part="train|valid",


def video_root(dataset):
    """The dataset's root: the user's unpacked dataset, or the embedded videos when root is null."""
    root = config.get("datasets", {}).get(dataset, {}).get("root")
    return root if root else f"{VIDEO_DIR}/{dataset}"


def video_synth_input(dataset):
    """The synth output a dataset depends on (embedded only; real roots are not DAG inputs)."""
    root = config.get("datasets", {}).get(dataset, {}).get("root")
    return [] if root else [f"{VIDEO_DIR}/{dataset}"]


def video_index_input(wildcards):
    return video_synth_input(wildcards.labelled)


def video_index_root(wildcards):
    return video_root(wildcards.labelled)


def clips_added():
    return list(config.get("clips", {}).get("add_labelled", []))


def clips_input(wildcards):
    return video_synth_input("unlabelled") + [
        f"{RESULTS}/data/index/{d}.csv" for d in clips_added()
    ] + [p for d in clips_added() for p in video_synth_input(d)]


def clips_args(wildcards):
    args = [f"--source {video_root('unlabelled')}"]
    for d in clips_added():
        args.append(f"--add-index {RESULTS}/data/index/{d}.csv --add-root {video_root(d)}")
    return " ".join(args)


def items_input(wildcards):
    """What a per-dataset stage reads: index (+ embedded videos) or the clip manifest."""
    if wildcards.dataset == "unlabelled":
        return [f"{RESULTS}/data/clips/unlabelled.csv"] + video_synth_input("unlabelled")
    return [f"{RESULTS}/data/index/{wildcards.dataset}.csv"] + video_synth_input(
        wildcards.dataset
    )


def items_args(wildcards):
    if wildcards.dataset == "unlabelled":
        return f"--clips {RESULTS}/data/clips/unlabelled.csv"
    return (
        f"--index {RESULTS}/data/index/{wildcards.dataset}.csv"
        f" --root {video_root(wildcards.dataset)}"
    )


def cnn_dataset():
    return config.get("flow", {}).get("cnn", {}).get("dataset", "ucf101")


def patches_dataset():
    return config.get("patches", {}).get("dataset", "ucf101")


def patches_input(wildcards):
    d = patches_dataset()
    return [f"{RESULTS}/data/index/{d}.csv"] + video_synth_input(d)


def patches_root():
    return video_root(patches_dataset())


def percept_kinds():
    return list(config.get("percepts", {}).get("kinds", ["rgb", "flow", "flowstack"]))


def video_targets():
    out = [f"{RESULTS}/data/index/{d}.csv" for d in VIDEO_LABELLED]
    out += [f"{RESULTS}/data/patches/{p}{e}" for p in ("train", "valid")
            for e in (".npy", ".offsets.npy", ".json")]
    out += [f"{RESULTS}/percepts/{d}/{k}{e}" for d in VIDEO_PERCEPT_DATASETS
            for k in percept_kinds() for e in (".npy", ".offsets.npy", ".json")]
    return out


OPTIONAL_TARGETS.append(video_targets)


rule video_synth:
    output:
        directory(f"{VIDEO_DIR}/{{synthset}}"),
    params:
        cfg=cfg_json("video"),
    log:
        f"{LOGS}/video/synth_{{synthset}}.log",
    benchmark:
        f"{BENCH}/video/synth_{{synthset}}.tsv"
    threads: 2
    resources:
        mem_mb=1000,
    conda:
        CONDA_ENV
    shell:
        "videolstm synth --dataset {wildcards.synthset} --out {output} --cfg {params.cfg:q}"
        " --threads {threads} > {log} 2>&1"


rule video_index:
    input:
        video_index_input,
    output:
        f"{RESULTS}/data/index/{{labelled}}.csv",
    params:
        cfg=cfg_json("datasets"),
        root=video_index_root,
    log:
        f"{LOGS}/video/index_{{labelled}}.log",
    benchmark:
        f"{BENCH}/video/index_{{labelled}}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    conda:
        CONDA_ENV
    shell:
        "videolstm index --dataset {wildcards.labelled} --root {params.root:q} --out {output}"
        " --cfg {params.cfg:q} --threads {threads} > {log} 2>&1"


rule video_clips:
    input:
        clips_input,
    output:
        f"{RESULTS}/data/clips/unlabelled.csv",
    params:
        cfg=cfg_json("clips"),
        args=clips_args,
    log:
        f"{LOGS}/video/clips.log",
    benchmark:
        f"{BENCH}/video/clips.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    conda:
        CONDA_ENV
    shell:
        "videolstm clips {params.args} --out {output} --cfg {params.cfg:q}"
        " --threads {threads} > {log} 2>&1"


rule video_patches:
    input:
        patches_input,
    output:
        npy=f"{RESULTS}/data/patches/{{part}}.npy",
        offsets=f"{RESULTS}/data/patches/{{part}}.offsets.npy",
        meta=f"{RESULTS}/data/patches/{{part}}.json",
    params:
        cfg=cfg_json("patches"),
        index=f"{RESULTS}/data/index/{patches_dataset()}.csv",
        root=patches_root(),
    log:
        f"{LOGS}/video/patches_{{part}}.log",
    benchmark:
        f"{BENCH}/video/patches_{{part}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        CONDA_ENV
    shell:
        "videolstm patches --index {params.index} --root {params.root:q} --part {wildcards.part}"
        " --out {output.npy} --cfg {params.cfg:q} > {log} 2>&1"


rule video_percepts_rgb:
    input:
        items_input,
    output:
        npy=f"{RESULTS}/percepts/{{dataset}}/rgb.npy",
        offsets=f"{RESULTS}/percepts/{{dataset}}/rgb.offsets.npy",
        meta=f"{RESULTS}/percepts/{{dataset}}/rgb.json",
    params:
        cfg=cfg_json("percepts"),
        sources=items_args,
    log:
        f"{LOGS}/video/percepts_{{dataset}}_rgb.log",
    benchmark:
        f"{BENCH}/video/percepts_{{dataset}}_rgb.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
    conda:
        CONDA_ENV
    shell:
        "videolstm percepts {params.sources} --dataset {wildcards.dataset} --out {output.npy}"
        " --cfg {params.cfg:q} --threads {threads} > {log} 2>&1"


rule video_flow:
    input:
        items_input,
    output:
        npy=f"{RESULTS}/data/flow/{{dataset}}.npy",
        offsets=f"{RESULTS}/data/flow/{{dataset}}.offsets.npy",
        meta=f"{RESULTS}/data/flow/{{dataset}}.json",
    params:
        cfg=cfg_json("flow"),
        sources=items_args,
    log:
        f"{LOGS}/video/flow_{{dataset}}.log",
    benchmark:
        f"{BENCH}/video/flow_{{dataset}}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    conda:
        CONDA_ENV
    shell:
        "videolstm flow {params.sources} --dataset {wildcards.dataset} --out {output.npy}"
        " --cfg {params.cfg:q} --threads {threads} > {log} 2>&1"


rule video_temporal_cnn:
    input:
        flow=f"{RESULTS}/data/flow/{cnn_dataset()}.npy",
        index=f"{RESULTS}/data/index/{cnn_dataset()}.csv",
    output:
        model=f"{RESULTS}/data/temporal_cnn/{{flowkind}}.pt",
        metrics=f"{RESULTS}/data/temporal_cnn/{{flowkind}}.json",
    params:
        cfg=cfg_json("flow"),
    log:
        f"{LOGS}/video/temporal_cnn_{{flowkind}}.log",
    benchmark:
        f"{BENCH}/video/temporal_cnn_{{flowkind}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "videolstm temporal-cnn-train --flow {input.flow} --index {input.index}"
        " --kind {wildcards.flowkind} --out {output.model} --cfg {params.cfg:q}"
        " --threads {threads} > {log} 2>&1"


rule video_percepts_flow:
    input:
        model=f"{RESULTS}/data/temporal_cnn/{{flowkind}}.pt",
        flow=f"{RESULTS}/data/flow/{{dataset}}.npy",
    output:
        npy=f"{RESULTS}/percepts/{{dataset}}/{{flowkind}}.npy",
        offsets=f"{RESULTS}/percepts/{{dataset}}/{{flowkind}}.offsets.npy",
        meta=f"{RESULTS}/percepts/{{dataset}}/{{flowkind}}.json",
    params:
        cfg=cfg_json("flow"),
    log:
        f"{LOGS}/video/percepts_{{dataset}}_{{flowkind}}.log",
    benchmark:
        f"{BENCH}/video/percepts_{{dataset}}_{{flowkind}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "videolstm temporal-cnn-features --model {input.model} --flow {input.flow}"
        " --dataset {wildcards.dataset} --out {output.npy} --cfg {params.cfg:q}"
        " --threads {threads} > {log} 2>&1"
