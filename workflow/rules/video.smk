# Video data and percepts (issue 3): embedded videos (when a dataset has no root), indexes from
# the official split files, unlabelled clips, image patches, RGB percepts, optical flow, the
# temporal-stream CNN and its flow percepts. Real data: set datasets.<name>.root (config/paper.yaml).

from functools import partial


VIDEO_DIR = f"{RESULTS}/data/videos"
CNN_DATASET = video_wf.cnn_dataset(config)
PATCHES_DATASET = video_wf.patches_dataset(config)


wildcard_constraints:
    labelled="ucf101|hmdb51",
    synthset="ucf101|hmdb51|unlabelled",
    flowkind="flow|flowstack",
    part="train|valid",
    split="[123]",


OPTIONAL_TARGETS.append(partial(video_wf.targets, config, RESULTS))


# priority 50 (above two Moving MNIST runs, 10 + 10, in the scheduler's sum): the two-thread video
# jobs are short and need every core of a 2-core machine; run first, they do not leave a core idle
# waiting for the long single-thread pretraining runs to end. No two-thread job may wait for a
# one-thread one (the digit CNN has two threads for this): the scheduler would pair that job with a
# Moving MNIST run, and the two-thread jobs after it would wait for that run to end (measured: one
# core idle for 400 s of a 2-core run)
rule video_synth:
    input:
        cfg=cfg_file("video"),
    output:
        directory(f"{VIDEO_DIR}/{{synthset}}"),
    log:
        f"{LOGS}/video/synth_{{synthset}}.log",
    benchmark:
        f"{BENCH}/video/synth_{{synthset}}.tsv"
    threads: 2
    priority: 50
    resources:
        mem_mb=1000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm synth --dataset {wildcards.synthset:q} --out {output:q} --cfg {input.cfg:q}"
        " --threads {threads} > {log:q} 2>&1"


rule video_index:
    input:
        partial(video_wf.index_input, config, RESULTS),
        cfg=cfg_file("datasets"),
    output:
        f"{RESULTS}/data/index/{{labelled}}.csv",
    params:
        root=partial(video_wf.index_root, config, RESULTS),
    log:
        f"{LOGS}/video/index_{{labelled}}.log",
    benchmark:
        f"{BENCH}/video/index_{{labelled}}.tsv"
    threads: 2
    priority: 50
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm index --dataset {wildcards.labelled:q} --root {params.root:q} --out {output:q}"
        " --cfg {input.cfg:q} --threads {threads} > {log:q} 2>&1"


rule video_clips:
    input:
        partial(video_wf.clips_input, config, RESULTS),
        cfg=cfg_file("clips"),
    output:
        f"{RESULTS}/data/clips/unlabelled.csv",
    params:
        args=partial(video_wf.clips_args, config, RESULTS),
    log:
        f"{LOGS}/video/clips.log",
    benchmark:
        f"{BENCH}/video/clips.tsv"
    threads: 2
    priority: 50
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm clips {params.args:q} --out {output:q} --cfg {input.cfg:q}"
        " --threads {threads} > {log:q} 2>&1"


rule video_patches:
    input:
        partial(video_wf.patches_input, config, RESULTS),
        cfg=cfg_file("patches"),
    output:
        npy=f"{RESULTS}/data/patches/{{part}}.npy",
        offsets=f"{RESULTS}/data/patches/{{part}}.offsets.npy",
        meta=f"{RESULTS}/data/patches/{{part}}.json",
    params:
        index=f"{RESULTS}/data/index/{PATCHES_DATASET}.csv",
        root=video_wf.video_root(config, RESULTS, PATCHES_DATASET),
    log:
        f"{LOGS}/video/patches_{{part}}.log",
    benchmark:
        f"{BENCH}/video/patches_{{part}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm patches --index {params.index:q} --root {params.root:q} --part {wildcards.part:q}"
        " --out {output.npy:q} --cfg {input.cfg:q} > {log:q} 2>&1"


# the embedded default's stand-in for VGG16: a CNN trained on MNIST digits no video shows
rule video_digit_cnn:
    input:
        cfg=cfg_file("percepts"),
    output:
        model=video_wf.digit_cnn_file(RESULTS),
        metrics=f"{RESULTS}/data/digit_cnn.json",
    log:
        f"{LOGS}/video/digit_cnn.log",
    benchmark:
        f"{BENCH}/video/digit_cnn.tsv"
    threads: 2
    priority: 50
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm digit-cnn-train --out {output.model:q} --cfg {input.cfg:q}"
        " --threads {threads} > {log:q} 2>&1"


rule video_percepts_rgb:
    input:
        partial(video_wf.items_input, config, RESULTS),
        video_wf.rgb_weights_input(config, RESULTS),
        cfg=cfg_file("percepts"),
    output:
        npy=f"{RESULTS}/percepts/{{dataset}}/rgb.npy",
        offsets=f"{RESULTS}/percepts/{{dataset}}/rgb.offsets.npy",
        meta=f"{RESULTS}/percepts/{{dataset}}/rgb.json",
    params:
        sources=partial(video_wf.items_args, config, RESULTS),
        weights=video_wf.rgb_weights_args(config, RESULTS),
    log:
        f"{LOGS}/video/percepts_{{dataset}}_rgb.log",
    benchmark:
        f"{BENCH}/video/percepts_{{dataset}}_rgb.tsv"
    threads: 2
    priority: 50
    resources:
        gpu=1,
        mem_mb=job_resource("video_percepts_rgb", "mem_mb", 6000),
        gpu_mem_mb=job_resource("video_percepts_rgb", "gpu_mem_mb", 0),
        runtime=job_resource("video_percepts_rgb", "runtime", 600),
    conda:
        CONDA_ENV
    shell:
        "videolstm percepts {params.sources:q} {params.weights:q} --dataset {wildcards.dataset:q}"
        " --out {output.npy:q} --cfg {input.cfg:q} --threads {threads} > {log:q} 2>&1"


rule video_flow:
    input:
        partial(video_wf.items_input, config, RESULTS),
        cfg=cfg_file("flow"),
    output:
        npy=f"{RESULTS}/data/flow/{{dataset}}.npy",
        offsets=f"{RESULTS}/data/flow/{{dataset}}.offsets.npy",
        meta=f"{RESULTS}/data/flow/{{dataset}}.json",
    params:
        sources=partial(video_wf.items_args, config, RESULTS),
    log:
        f"{LOGS}/video/flow_{{dataset}}.log",
    benchmark:
        f"{BENCH}/video/flow_{{dataset}}.tsv"
    threads: 2
    priority: 50
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm flow {params.sources:q} --dataset {wildcards.dataset:q} --out {output.npy:q}"
        " --cfg {input.cfg:q} --threads {threads} > {log:q} 2>&1"


rule video_temporal_cnn:
    input:
        flow=f"{RESULTS}/data/flow/{CNN_DATASET}.npy",
        index=f"{RESULTS}/data/index/{CNN_DATASET}.csv",
        cfg=cfg_file("flow"),
    output:
        model=f"{RESULTS}/data/temporal_cnn/{{flowkind}}_split{{split}}.pt",
        metrics=f"{RESULTS}/data/temporal_cnn/{{flowkind}}_split{{split}}.json",
    log:
        f"{LOGS}/video/temporal_cnn_{{flowkind}}_split{{split}}.log",
    benchmark:
        f"{BENCH}/video/temporal_cnn_{{flowkind}}_split{{split}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=job_resource("video_temporal_cnn", "mem_mb", 4000),
        gpu_mem_mb=job_resource("video_temporal_cnn", "gpu_mem_mb", 0),
        runtime=job_resource("video_temporal_cnn", "runtime", 600),
    conda:
        CONDA_ENV
    shell:
        "videolstm temporal-cnn-train --flow {input.flow:q} --index {input.index:q}"
        " --kind {wildcards.flowkind:q} --split {wildcards.split:q} --out {output.model:q}"
        " --cfg {input.cfg:q} --threads {threads} > {log:q} 2>&1"


# one split's flow percepts: fc6 of the temporal CNN trained on that split's training videos
rule video_percepts_flow:
    input:
        model=f"{RESULTS}/data/temporal_cnn/{{flowkind}}_split{{split}}.pt",
        flow=f"{RESULTS}/data/flow/{{dataset}}.npy",
        cfg=cfg_file("flow"),
    output:
        npy=f"{RESULTS}/percepts/{{dataset}}/{{flowkind}}_split{{split}}.npy",
        offsets=f"{RESULTS}/percepts/{{dataset}}/{{flowkind}}_split{{split}}.offsets.npy",
        meta=f"{RESULTS}/percepts/{{dataset}}/{{flowkind}}_split{{split}}.json",
    log:
        f"{LOGS}/video/percepts_{{dataset}}_{{flowkind}}_split{{split}}.log",
    benchmark:
        f"{BENCH}/video/percepts_{{dataset}}_{{flowkind}}_split{{split}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=job_resource("video_percepts_flow", "mem_mb", 4000),
        gpu_mem_mb=job_resource("video_percepts_flow", "gpu_mem_mb", 0),
        runtime=job_resource("video_percepts_flow", "runtime", 600),
    conda:
        CONDA_ENV
    shell:
        "videolstm temporal-cnn-features --model {input.model:q} --flow {input.flow:q}"
        " --dataset {wildcards.dataset:q} --out {output.npy:q} --cfg {input.cfg:q}"
        " --threads {threads} > {log:q} 2>&1"
