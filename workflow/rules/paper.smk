# Moving MNIST results: test-set evaluation of each pretrained run (decoders in test mode), Table 2,
# the later literature's MSE/SSIM protocol, the lab report's table, Figures 5, 7, 8, 9, 10 and
# Figures 7 and 8 as numbers (for the claims).


rule mnist_eval:
    input:
        ckpt=f"{RESULTS}/pretrain/{{domain}}/{{run}}/final.pt",
        test=f"{MNIST_SETS}/test.npy",
        cfg=cfg_file(),
    output:
        f"{RESULTS}/eval/{{domain,mnist|labreport}}/{{run}}.json",
    log:
        f"{LOGS}/eval/{{domain}}/{{run}}.log",
    benchmark:
        f"{BENCH}/eval/{{domain}}/{{run}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm mnist-eval --cfg {input.cfg:q} --checkpoint {input.ckpt:q} --test {input.test:q}"
        " --out {output:q} --threads {threads} > {log:q} 2>&1"


rule patches_eval:
    input:
        ckpt=f"{RESULTS}/pretrain/patches/{{run}}/final.pt",
        arrays=f"{RESULTS}/data/patches/valid.npy",
        offsets=f"{RESULTS}/data/patches/valid.offsets.npy",
        cfg=cfg_file(),
    output:
        f"{RESULTS}/eval/patches/{{run}}.json",
    params:
        stem=array_stem,
    log:
        f"{LOGS}/eval/patches/{{run}}.log",
    benchmark:
        f"{BENCH}/eval/patches/{{run}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm sequence-eval --cfg {input.cfg:q} --checkpoint {input.ckpt:q}"
        " --arrays {params.stem:q} --out {output:q} --threads {threads} > {log:q} 2>&1"


rule mnist_baselines:
    input:
        test=f"{MNIST_SETS}/test.npy",
        cfg=baselines_cfg_file("mnist"),
    output:
        f"{RESULTS}/eval/baselines/mnist.json",
    log:
        f"{LOGS}/eval/baselines/mnist.log",
    benchmark:
        f"{BENCH}/eval/baselines/mnist.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm mnist-baselines --cfg {input.cfg:q} --test {input.test:q} --out {output:q} > {log:q} 2>&1"


rule patches_baselines:
    input:
        train=f"{RESULTS}/data/patches/train.npy",
        train_offsets=f"{RESULTS}/data/patches/train.offsets.npy",
        test=f"{RESULTS}/data/patches/valid.npy",
        test_offsets=f"{RESULTS}/data/patches/valid.offsets.npy",
        cfg=baselines_cfg_file("patches"),
    output:
        f"{RESULTS}/eval/baselines/patches.json",
    params:
        train=lambda wildcards, input: input.train[: -len(".npy")],
        test=lambda wildcards, input: input.test[: -len(".npy")],
    log:
        f"{LOGS}/eval/baselines/patches.log",
    benchmark:
        f"{BENCH}/eval/baselines/patches.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm sequence-baselines --cfg {input.cfg:q} --domain patches --train {params.train:q}"
        " --test {params.test:q} --out {output:q} > {log:q} 2>&1"


rule table2:
    input:
        unpack(table2_inputs),
        cfg=cfg_file("mnist"),
    output:
        csv=report(
            f"{RESULTS}/tables/table2.csv",
            caption="../report/table2.rst",
            category="Moving MNIST",
        ),
        md=f"{RESULTS}/tables/table2.md",
        tex=f"{RESULTS}/tables/table2.tex",
    params:
        mnist=table2_mnist_args(),
        patches=table2_patches_args,
        baselines=table2_baseline_args,
        out_dir=output_dir,
    log:
        f"{LOGS}/tables/table2.log",
    benchmark:
        f"{BENCH}/tables/table2.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm table2 --only table2 --cfg {input.cfg:q} --mnist-eval {params.mnist:q}"
        " {params.patches:q} {params.baselines:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule moving_mnist_protocol:
    input:
        evals=table2_mnist_evals(),
        baselines=f"{RESULTS}/eval/baselines/mnist.json",
        cfg=cfg_file("mnist"),
    output:
        csv=report(
            f"{RESULTS}/tables/moving_mnist_protocol.csv",
            caption="../report/moving_mnist_protocol.rst",
            category="Moving MNIST",
        ),
        md=f"{RESULTS}/tables/moving_mnist_protocol.md",
        tex=f"{RESULTS}/tables/moving_mnist_protocol.tex",
    params:
        mnist=table2_mnist_args(),
        out_dir=output_dir,
    log:
        f"{LOGS}/tables/moving_mnist_protocol.log",
    benchmark:
        f"{BENCH}/tables/moving_mnist_protocol.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm table2 --only protocol --cfg {input.cfg:q} --mnist-eval {params.mnist:q}"
        " --mnist-baselines {input.baselines:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule labreport:
    input:
        unpack(labreport_inputs),
        cfg=cfg_file("mnist"),
    output:
        csv=report(
            f"{RESULTS}/tables/labreport.csv",
            caption="../report/labreport.rst",
            category="Lab report",
        ),
        md=f"{RESULTS}/tables/labreport.md",
        tex=f"{RESULTS}/tables/labreport.tex",
        figure=report(
            f"{RESULTS}/figures/labreport_reconstructions.png",
            caption="../report/labreport_reconstructions.rst",
            category="Lab report",
        ),
    params:
        runs=labreport_args(),
        out_dir=output_dir,
    log:
        f"{LOGS}/tables/labreport.log",
    benchmark:
        f"{BENCH}/tables/labreport.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm labreport --cfg {input.cfg:q} {params.runs:q} --test {input.test:q}"
        " --out-dir {params.out_dir:q} --figure {output.figure:q} > {log:q} 2>&1"


rule mnist_figures:
    input:
        ckpts=figure_checkpoints(),
        test=f"{MNIST_SETS}/test.npy",
        test_1digit=f"{MNIST_SETS}/test_1digit.npy",
        test_3digits=f"{MNIST_SETS}/test_3digits.npy",
        cfg=cfg_file("mnist"),
    output:
        fig5=report(
            f"{RESULTS}/figures/figure5.png",
            caption="../report/figure5.rst",
            category="Moving MNIST",
        ),
        fig7=report(
            f"{RESULTS}/figures/figure7.png",
            caption="../report/figure7.rst",
            category="Moving MNIST",
        ),
        fig8=report(
            f"{RESULTS}/figures/figure8.png",
            caption="../report/figure8.rst",
            category="Moving MNIST",
        ),
        fig9=report(
            f"{RESULTS}/figures/figure9.png",
            caption="../report/figure9.rst",
            category="Moving MNIST",
        ),
        fig10=report(
            f"{RESULTS}/figures/figure10.png",
            caption="../report/figure10.rst",
            category="Moving MNIST",
        ),
        gif=report(
            f"{RESULTS}/figures/prediction.gif",
            caption="../report/prediction_gif.rst",
            category="Moving MNIST",
        ),
    params:
        ckpts=figure_checkpoint_args(),
        out_dir=output_dir,
    log:
        f"{LOGS}/figures/mnist_figures.log",
    benchmark:
        f"{BENCH}/figures/mnist_figures.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm mnist-figures --cfg {input.cfg:q} --checkpoint {params.ckpts:q}"
        " --test {input.test:q} --test-1digit {input.test_1digit:q}"
        " --test-3digits {input.test_3digits:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule mnist_figure_checks:
    input:
        ckpt=figure_check_checkpoint(),
        test=f"{MNIST_SETS}/test.npy",
        test_1digit=f"{MNIST_SETS}/test_1digit.npy",
        test_3digits=f"{MNIST_SETS}/test_3digits.npy",
        cfg=cfg_file("mnist"),
    output:
        f"{RESULTS}/{FIGURE_CHECKS}",
    log:
        f"{LOGS}/eval/figures/mnist_checks.log",
    benchmark:
        f"{BENCH}/eval/figures/mnist_checks.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm mnist-figure-checks --cfg {input.cfg:q} --checkpoint {input.ckpt:q}"
        " --test {input.test:q} --test-1digit {input.test_1digit:q}"
        " --test-3digits {input.test_3digits:q} --out {output:q} --threads {threads} > {log:q} 2>&1"
