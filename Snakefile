# Reproduction of Srivastava, Mansimov & Salakhutdinov (ICML 2015) as a Snakemake workflow.
# Thin entry point: configuration and validation, the rule files of each phase, the final targets.
# Run:  snakemake --cores N                      (embedded default, config/config.yaml)
#       snakemake --cores N --configfile config/paper.yaml   (paper scale, real data)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


wildcard_constraints:
    domain=r"[a-z_]+(_split[123])?",
    run=r"[A-Za-z0-9_]+",
    dataset=r"[a-z0-9_]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/settings.smk"
include: "workflow/rules/mnist.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/phases.smk"


# when a run starts (not on a dry run): every input the configuration names is there, or one
# message listing what is missing, before any job (videolstm.check; also `videolstm check`)
onstart:
    onstart_check(config, workflow.overwrite_configfiles, local=workflow.local_exec)


rule all:
    input:
        all_targets(),
        rules.paper_metrics.output,
    default_target: True
