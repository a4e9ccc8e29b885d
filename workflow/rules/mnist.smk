# Moving MNIST: the fixed evaluation sets. Training data is generated on the fly by `pretrain`.


rule mnist_sets:
    input:
        cfg=cfg_file("mnist"),
    output:
        valid=f"{RESULTS}/data/moving_mnist/valid.npy",
        test=f"{RESULTS}/data/moving_mnist/test.npy",
        test_1digit=f"{RESULTS}/data/moving_mnist/test_1digit.npy",
        test_3digits=f"{RESULTS}/data/moving_mnist/test_3digits.npy",
        sets=f"{RESULTS}/data/moving_mnist/sets.json",
    params:
        out_dir=output_dir,
    log:
        f"{LOGS}/mnist_sets.log",
    benchmark:
        f"{BENCH}/mnist_sets.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=job_runtime(60),
    conda:
        CONDA_ENV
    shell:
        "videolstm mnist-data --cfg {input.cfg:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
