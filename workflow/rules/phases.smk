# One target rule per phase; each DVC stage in dvc.yaml runs exactly one of them.
# A phase's targets are the final targets whose paths fall under that phase's folders, so a
# rule file only has to list its outputs once (in OPTIONAL_TARGETS or mnist_targets).

PHASE_DIRS = {
    "data": ["data"],
    "percepts": ["percepts"],
    "pretrain": ["pretrain"],
    "finetune": ["finetune"],
    "paper": ["eval", "tables", "figures", "metrics"],
}


def paper_tables(wildcards=None):
    """Every table CSV among the final targets: DVC's metrics are collected from them."""
    return sorted(t for t in all_targets() if t.startswith(f"{RESULTS}/tables/") and t.endswith(".csv"))


def phase_targets(phase):
    prefixes = tuple(f"{RESULTS}/{d}/" for d in PHASE_DIRS[phase])
    return sorted(t for t in all_targets() if t.startswith(prefixes))


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
    conda:
        CONDA_ENV
    shell:
        "videolstm metrics {input} --out {output} > {log} 2>&1"
