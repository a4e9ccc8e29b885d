# The paper's claims, checked: one row per claim (the paper's effect, ours with its standard error,
# a verdict from videolstm.claims), from whatever the configured parts produced, and the short
# summary that the claims page, docs/claims.md, includes (videolstm claims-readme).


rule claims:
    input:
        claims_inputs,
        cfg=cfg_file("parts"),
    output:
        csv=f"{RESULTS}/tables/claims.csv",
        md=report(
            f"{RESULTS}/tables/claims.md",
            caption="../report/claims.rst",
            category="Claims",
        ),
        summary=f"{RESULTS}/tables/claims_summary.md",
    params:
        results=results_root,
        stem=claims_stem,
    log:
        f"{LOGS}/tables/claims.log",
    benchmark:
        f"{BENCH}/tables/claims.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "videolstm claims --results {params.results:q} --cfg {input.cfg:q} --out {params.stem:q}"
        " --summary {output.summary:q} > {log:q} 2>&1"
