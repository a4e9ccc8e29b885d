# Unsupervised pretraining: one job per configured run of each domain (mnist, labreport,
# patches, percepts_rgb, percepts_flow). A killed job resumes from its last.pt when rerun.


rule pretrain:
    input:
        unpack(pretrain_inputs),
        cfg=pretrain_cfg_file,
    output:
        final=f"{RESULTS}/pretrain/{{domain}}/{{run}}/final.pt",
        summary=f"{RESULTS}/pretrain/{{domain}}/{{run}}/summary.json",
        metrics=f"{RESULTS}/pretrain/{{domain}}/{{run}}/metrics.csv",
    params:
        out_dir=f"{RESULTS}/pretrain/{{domain}}/{{run}}",
        data_root=results_root,
    log:
        f"{LOGS}/pretrain/{{domain}}/{{run}}.log",
    benchmark:
        f"{BENCH}/pretrain/{{domain}}/{{run}}.tsv"
    threads: 1
    # the long Moving MNIST runs first, so that the short jobs fill the other core beside them
    priority: lambda wildcards: 10 if wildcards.domain == "mnist" else 0
    resources:
        gpu=1,
        mem_mb=job_resource("pretrain", "mem_mb", 4000),
        gpu_mem_mb=job_resource("pretrain", "gpu_mem_mb", 0),
        runtime=job_resource("pretrain", "runtime", 600),
    conda:
        CONDA_ENV
    shell:
        "videolstm pretrain --cfg {input.cfg:q} --domain {wildcards.domain:q} --run {wildcards.run:q}"
        " --out-dir {params.out_dir:q} --data-root {params.data_root:q} --threads {threads} > {log:q} 2>&1"


# Did the percept encoders learn? Held-out losses beside the no-learning baselines.
rule table_percept_pretraining:
    input:
        summaries=percept_pretrain_summaries,
        cfg=cfg_file("finetune"),
    output:
        report(
            multiext(f"{RESULTS}/tables/percept_pretraining", ".csv", ".md"),
            caption="../report/percept_pretraining.rst",
            category="Action recognition",
        ),
    params:
        out_dir=output_dir,
    log:
        f"{LOGS}/tables/percept_pretraining.log",
    benchmark:
        f"{BENCH}/tables/percept_pretraining.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm table-percept-pretraining --cfg {input.cfg:q} --summaries {input.summaries:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


OPTIONAL_TARGETS.append(
    lambda: [f"{RESULTS}/tables/percept_pretraining.{e}" for e in ("csv", "md")]
    if percept_pretrain_summaries() else []
)
