# The settings files under results/configs/ (common.smk, settings_file). A run writes them when
# it plans its first job, so this rule runs only for a file asked for by name, or with
# --forceall; a dry run, which writes nothing, plans it for each file to write: a missing one,
# or (forced) one whose settings the configuration changes, with the jobs that read it.

localrules:
    settings,


rule settings:
    output:
        f"{CONFIGS}/{{name}}.json",
    log:
        f"{LOGS}/configs/{{name}}.log",
    wildcard_constraints:
        name=r"[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*",
    resources:
        mem_mb=100,
        runtime=1,
    run:
        write_settings(wildcards.name, output[0])
