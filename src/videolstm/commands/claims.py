"""The paper's claims, checked (videolstm.claims), and the generated block of the claims page
(docs/claims.md, which the README links).

    videolstm claims --results results --cfg JSON --out results/tables/claims
                     --summary results/tables/claims_summary.md
    videolstm claims-readme [--page docs/claims.md] [--summary results/tables/claims_summary.md ...]
                            [--check]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from videolstm.cli import parse_cfg
from videolstm.errors import UserError

# the runs whose summaries make the claims page: the embedded default and the CPU-scale run
CLAIMS_PAGE = "docs/claims.md"
README_SUMMARIES = ("results/tables/claims_summary.md", "results-cpu/tables/claims_summary.md",
                    "results-cpu/action/tables/claims_summary.md")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("claims", help="one row per claim of the paper: effects, SE, verdicts")
    p.add_argument("--results", required=True, help="the run's results folder")
    p.add_argument("--cfg", required=True,
                   help="JSON: config_name, data_source and parts (null = every part)")
    p.add_argument("--out", required=True, help="output stem: writes STEM.csv and STEM.md")
    p.add_argument("--summary", default=None, help="also write this Markdown summary (for the claims page)")
    p.set_defaults(func=run)

    p = sub.add_parser("claims-readme",
                       help="rewrite the claims page's generated block (docs/claims.md) from the runs' claims "
                            "summaries")
    p.add_argument("--page", "--readme", dest="page", default=CLAIMS_PAGE,
                   help="the page holding the block (run from the project's root)")
    p.add_argument("--summary", nargs="*", default=list(README_SUMMARIES))
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 if the page's block differs")
    p.set_defaults(func=run_readme)


def run(args: argparse.Namespace) -> int:
    from videolstm.claims import evaluate, write_claims

    cfg = parse_cfg(args.cfg)
    for key in ("config_name", "data_source"):
        if key not in cfg:
            raise UserError(f"--cfg lacks '{key}'")
    rows = evaluate(args.results, cfg["config_name"], cfg["data_source"], cfg.get("parts"))
    for path in write_claims(rows, args.out, cfg["config_name"], cfg["data_source"],
                             args.summary):
        print(f"wrote {path}")
    return 0


def run_readme(args: argparse.Namespace) -> int:
    from videolstm.claims import current_readme_block, readme_block, replace_readme_block

    missing = [s for s in args.summary if not Path(s).is_file()]
    if missing:
        raise UserError(f"claims summary {missing[0]} does not exist; run the claims rule first")
    page = Path(args.page)
    if not page.is_file():
        raise UserError(f"claims page {page} does not exist")
    text = page.read_text(encoding="utf-8")
    block = readme_block([Path(s).read_text(encoding="utf-8") for s in args.summary], page.parent)
    try:
        if args.check:
            same = current_readme_block(text) == block
            print(f"{page}: claims block {'up to date' if same else 'differs'}")
            return 0 if same else 1
        new = replace_readme_block(text, block)
    except ValueError as exc:
        raise UserError(f"{page} {exc}") from exc
    if new != text:
        from videolstm.io import atomic_write_text

        atomic_write_text(page, new)
    print(f"{page}: claims block {'rewritten' if new != text else 'already up to date'}")
    return 0
