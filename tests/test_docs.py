"""The README is a short front door and docs/ holds the rest: every relative link of README.md and
docs/*.md reaches a file (and a heading, when it names one), and the README's summary of the
committed runs quotes only numbers that the page it links to states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

README_MAX_LINES = 250
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?")


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code (no links there)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M),
                         flags=re.M):
        s = slug(m.group(1))
        out.add(s if s not in seen else f"{s}-{seen[s]}")
        seen[s] = seen.get(s, 0) + 1
    return out


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page.read_text())) if not re.match(r"[a-z]+:", t)]


def broken_links(page: Path) -> list[str]:
    bad = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target} (no heading '{anchor}' in {dest.name})")
    return bad


def test_readme_is_a_short_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move text to docs/"
    assert not any(line.startswith("<!--") for line in lines), (
        "README.md holds a generated block; generated text lives in its own file under docs/")


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_reaches_a_file_and_heading(page):
    assert broken_links(page) == []


def test_every_docs_page_is_reached_from_the_readme():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(ROOT / "README.md")}
    for page in PAGES[1:]:
        linked |= {(page.parent / t.partition("#")[0]).resolve() for t in relative_links(page)
                   if page.resolve() in linked}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_the_link_check_finds_a_broken_file_and_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# A page\n\n## Its part\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#its-part) [gone](c.md) [bad](a.md#nothing) `[code](d.md)`\n")
    assert broken_links(page) == ["c.md (no such file)", "a.md#nothing (no heading 'nothing' in a.md)"]


def test_readme_numbers_are_those_of_the_page_each_line_links():
    """Each README table row and paragraph that links pages under docs/ quotes only numbers
    those pages state (so a page rewritten with new measurements flags the README's copy)."""
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in re.split(r"\n\s*\n", prose(text))]
    rows = [line for b in blocks for line in b.splitlines() if line.startswith("| ")]
    checked = 0
    for part in rows + [b for b in blocks if not b.startswith("|")]:
        docs = {t.partition("#")[0] for t in LINK.findall(part) if t.startswith("docs/")}
        if not docs:
            continue
        source = "\n".join((ROOT / d).read_text() for d in docs)
        numbers = NUMBER.findall(LINK.sub("", part))
        missing = [n for n in numbers if not re.search(rf"(?<![\w.]){re.escape(n)}(?![\d])", source)]
        assert missing == [], f"README quotes {missing}, which {sorted(docs)} do not state: {part[:80]}"
        checked += len(numbers)
    assert checked >= 20
