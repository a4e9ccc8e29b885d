# One target rule per phase; each DVC stage in dvc.yaml runs exactly one of them.
# A phase's targets are the final targets whose paths fall under that phase's folders, so a
# rule file only has to list its outputs once (in OPTIONAL_TARGETS or mnist_targets).

rule phase_data:
    input:
        phase_targets("data"),


rule phase_percepts:
    input:
        phase_targets("percepts"),


rule phase_pretrain:
    input:
        phase_targets("pretrain"),


rule phase_finetune:
    input:
        phase_targets("finetune"),


rule phase_paper:
    input:
        phase_targets("paper"),
        f"{RESULTS}/metrics/paper.json",


rule paper_metrics:
    input:
        paper_tables,
    output:
        f"{RESULTS}/metrics/paper.json",
    log:
        f"{LOGS}/paper_metrics.log",
    benchmark:
        f"{BENCH}/paper_metrics.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm metrics {input:q} --out {output:q} > {log:q} 2>&1"
