# Supervised protocol (paper section 3.3): one batched job per dataset and split trains every
# classifier (pretrained inits, baseline LSTM, single frame; all labelled-set sizes and samples),
# then Tables 1, 3, 4 and Figure 12 are drawn from all splits.
from functools import partial

from videolstm.finetune import workflow as ft_workflow

OPTIONAL_TARGETS.append(partial(ft_workflow.targets, config, RESULTS))
OPTIONAL_TARGETS.append(partial(ft_workflow.probe_targets, config, RESULTS))


rule finetune:
    input:
        unpack(partial(ft_workflow.inputs, config, RESULTS)),
        cfg=cfg_file("finetune"),
    output:
        runs=f"{RESULTS}/finetune/{{dataset}}/split{{split}}.csv",
        summary=f"{RESULTS}/finetune/{{dataset}}/split{{split}}.json",
    params:
        percepts=f"{RESULTS}/percepts/{{dataset}}",
        pretrain=f"{RESULTS}/pretrain",
    wildcard_constraints:
        split=r"[123]",
    log:
        f"{LOGS}/finetune/{{dataset}}/split{{split}}.log",
    benchmark:
        f"{BENCH}/finetune/{{dataset}}/split{{split}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=job_resource("finetune", "mem_mb", 4000),
        gpu_mem_mb=job_resource("finetune", "gpu_mem_mb", 0),
        runtime=job_resource("finetune", "runtime", 600),
    conda:
        CONDA_ENV
    shell:
        "videolstm finetune --cfg {input.cfg:q} --dataset {wildcards.dataset:q}"
        " --split {wildcards.split:q} --index {input.index:q} --percepts {params.percepts:q}"
        " --pretrain {params.pretrain:q} --out {output.runs:q} --threads {threads} > {log:q} 2>&1"


rule finetune_controls:
    input:
        unpack(partial(ft_workflow.inputs, config, RESULTS, controls_runs=True)),
        cfg=cfg_file("finetune"),
    output:
        runs=f"{RESULTS}/finetune/controls/{{dataset}}/split{{split}}.csv",
        summary=f"{RESULTS}/finetune/controls/{{dataset}}/split{{split}}.json",
    params:
        percepts=f"{RESULTS}/percepts/{{dataset}}",
        pretrain=f"{RESULTS}/pretrain",
    wildcard_constraints:
        split=r"[123]",
    log:
        f"{LOGS}/finetune/controls/{{dataset}}/split{{split}}.log",
    benchmark:
        f"{BENCH}/finetune/controls/{{dataset}}/split{{split}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=job_resource("finetune_controls", "mem_mb", 4000),
        gpu_mem_mb=job_resource("finetune_controls", "gpu_mem_mb", 0),
        runtime=job_resource("finetune_controls", "runtime", 600),
    conda:
        CONDA_ENV
    shell:
        "videolstm finetune --controls --cfg {input.cfg:q} --dataset {wildcards.dataset:q}"
        " --split {wildcards.split:q} --index {input.index:q} --percepts {params.percepts:q}"
        " --pretrain {params.pretrain:q} --out {output.runs:q} --threads {threads} > {log:q} 2>&1"


rule table_controls:
    input:
        runs=ft_workflow.control_csvs(config, RESULTS),
        encoders=ft_workflow.control_encoder_summaries(config, RESULTS),
        cfg=cfg_file("finetune"),
    output:
        report(
            multiext(f"{RESULTS}/tables/controls", ".csv", ".md"),
            caption="../report/controls.rst",
            category="Action recognition",
        ),
    params:
        out_dir=output_dir,
    log:
        f"{LOGS}/finetune/table_controls.log",
    benchmark:
        f"{BENCH}/finetune/table_controls.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm table-controls --cfg {input.cfg:q} --runs {input.runs:q}"
        " --pretrain-summaries {input.encoders:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule table_probes:
    input:
        unpack(lambda wildcards: ft_workflow.probe_inputs(config, RESULTS)),
        cfg=cfg_file("probes", "finetune"),
    output:
        report(
            multiext(f"{RESULTS}/tables/probes", ".csv", ".md"),
            caption="../report/probes.rst",
            category="Action recognition",
        ),
    params:
        # the results folder: three levels above <results>/data/index/<dataset>.csv
        results=lambda wildcards, input: os.path.dirname(os.path.dirname(os.path.dirname(
            input.index[0]))),
        out_dir=output_dir,
    log:
        f"{LOGS}/finetune/table_probes.log",
    benchmark:
        f"{BENCH}/finetune/table_probes.tsv"
    threads: 1
    resources:
        gpu=1,  # the encoders run on the configured device
        mem_mb=4000,
        runtime=30,
    conda:
        CONDA_ENV
    shell:
        "videolstm probes --cfg {input.cfg:q} --results {params.results:q}"
        " --out-dir {params.out_dir:q} --threads {threads} > {log:q} 2>&1"


rule tables_actions:
    input:
        runs=ft_workflow.split_csvs(config, RESULTS),
        cnn=ft_workflow.temporal_cnn_metrics(config, RESULTS),
        cfg=cfg_file("finetune"),
    output:
        report(
            multiext(f"{RESULTS}/tables/table1", ".csv", ".md", ".tex"),
            caption="../report/table1.rst",
            category="Action recognition",
        ),
        report(
            multiext(f"{RESULTS}/tables/table3", ".csv", ".md", ".tex"),
            caption="../report/table3.rst",
            category="Action recognition",
        ),
        report(
            multiext(f"{RESULTS}/tables/table4", ".csv", ".md", ".tex"),
            caption="../report/table4.rst",
            category="Action recognition",
        ),
    params:
        cnn=lambda wildcards, input: ["--temporal-cnn", *input.cnn] if input.cnn else [],
        out_dir=output_dir,
    log:
        f"{LOGS}/finetune/tables_actions.log",
    benchmark:
        f"{BENCH}/finetune/tables_actions.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm tables-actions --cfg {input.cfg:q} --runs {input.runs:q}"
        " {params.cnn:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule figure12:
    input:
        runs=ft_workflow.split_csvs(config, RESULTS),
        cfg=cfg_file("finetune"),
    output:
        png=report(
            f"{RESULTS}/figures/figure12.png",
            caption="../report/figure12.rst",
            category="Action recognition",
        ),
        pdf=f"{RESULTS}/figures/figure12.pdf",
        csv=report(
            f"{RESULTS}/figures/figure12.csv",
            caption="../report/figure12.rst",
            category="Action recognition",
        ),
    params:
        out_dir=output_dir,
    log:
        f"{LOGS}/finetune/figure12.log",
    benchmark:
        f"{BENCH}/finetune/figure12.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm figure12 --cfg {input.cfg:q} --runs {input.runs:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"
