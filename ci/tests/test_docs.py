"""The documentation stays short, by topic and linked (issue 28): the README and every Markdown page
at most 20 KB, every relative link of the README and docs/ to an existing file and, with `#anchor`,
to an existing heading (GitHub's slug rules), and every doc path the code names to an existing page.
Each checker is also run on a broken fixture, so that a check that cannot fail is a failing test."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20_000  # bytes, as `wc -c` counts them
SKIP = ("node_modules/", ".rps/", "bench/results/", ".git/")
# Where the code names doc pages: scripts, sources, tests, CI, the DAG, configuration.
CODE = ("scripts", "src", "ci", "test", "bench", ".github", "airflow_dags", "monitoring", "grafana", "bin")
CODE_FILES = ("Makefile", "params.yaml", "docker-compose.yml", "Dockerfile", "Dockerfile.serve", ".env.example")


def markdown_pages(root: Path) -> list[Path]:
    """Every Markdown page of the checkout (tracked or new, not ignored), outside SKIP."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             check=True, capture_output=True).stdout.decode()
        rels = [r for r in out.split("\0") if r]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk it
        rels = [str((Path(d) / f).relative_to(root)) for d, _, fs in os.walk(root) for f in fs]
    return sorted(root / r for r in rels if r.endswith(".md") and not r.startswith(SKIP) and (root / r).is_file())


def oversized(paths: list[Path]) -> list[str]:
    return [f"{p}: {p.stat().st_size} bytes > {LIMIT}" for p in paths if p.stat().st_size > LIMIT]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    out, fence = [], None
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[:3]
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            out.append((n, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: inline markup dropped, lower case, punctuation but `-` and `_`
    removed, each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # HTML tags
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(page.read_text()):
        m = re.match(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    # Explicit anchors (<a name="x"> / id="x") count too.
    out.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", page.read_text()))
    return out


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every inline link or image outside code blocks and code spans."""
    out = []
    for n, line in prose_lines(page.read_text()):
        line = re.sub(r"`+[^`]*`+", "", line)
        out += [(n, t) for t in re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line)]
    return out


def broken_links(pages: list[Path]) -> list[str]:
    bad = []
    for page in pages:
        for n, target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{page}:{n}: {target}"
            if not dest.exists():
                bad.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{where}: no heading with anchor #{anchor} in {dest.name}")
    return bad


# A doc page named in code: a flat docs/<page>.md, or an upper-case page (README.md, CICD.md, ...)
# in any directory; optionally followed by the quoted heading of a section: docs/x.md, "Heading".
DOC_REF = re.compile(r"(?<![\w/.-])(docs/[\w.-]+\.md|(?:[\w.-]+/)*[A-Z][A-Z0-9_]*\.md|README)\b(?:,?\s+\"([^\"]+)\")?")


def code_files(root: Path) -> list[Path]:
    files = [root / f for f in CODE_FILES if (root / f).is_file()]
    for d in CODE:
        for dirpath, dirnames, names in os.walk(root / d):
            rel = Path(dirpath).relative_to(root).as_posix() + "/"
            dirnames[:] = [x for x in dirnames if not (rel + x + "/").startswith(SKIP) and x not in ("node_modules", "__pycache__")]
            files += [Path(dirpath) / n for n in names if not n.endswith((".png", ".parquet", ".csv", ".pyc"))]
    files = [f for f in files if f.resolve() != Path(__file__).resolve()]  # its fixtures name missing pages on purpose
    return files + [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def missing_doc_paths(root: Path, files: list[Path]) -> list[str]:
    bad = []
    for f in files:
        try:
            text = f.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if f.suffix == ".md":  # link targets are relative to the page: broken_links checks them
            text = re.sub(r"\]\([^)]*\)", "]()", text)
        for m in DOC_REF.finditer(text):
            name, heading = m.group(1), m.group(2)
            if name == "README" and not heading:  # "the README first run": prose, not a reference
                continue
            page = root / ("README.md" if name == "README" else name)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{f.relative_to(root)}:{line}: {m.group(0)!r}"
            if not page.is_file():
                bad.append(f"{where}: {name} does not exist")
            elif heading and not any(slug(heading) in a for a in anchors(page)):
                bad.append(f"{where}: {page.relative_to(root)} has no heading with {heading!r}")
    return bad


def test_when_the_readme_is_measured_then_it_is_at_most_20_kb():
    assert (ROOT / "README.md").stat().st_size <= LIMIT, "README.md: move a section to docs/ and link it"


def test_when_every_markdown_page_is_measured_then_each_is_at_most_20_kb():
    pages = markdown_pages(ROOT)
    assert ROOT / "README.md" in pages and ROOT / "docs" / "CICD.md" in pages
    assert oversized(pages) == [], "split the page by topic"


def test_when_the_readme_and_docs_link_then_every_file_and_anchor_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert sum(len(links(p)) for p in pages) > 30  # the parser sees the links
    assert broken_links(pages) == []


def test_when_code_names_a_doc_page_then_the_page_and_its_heading_exist():
    files = code_files(ROOT)
    assert ROOT / "scripts" / "readme_first_run.py" in files and ROOT / "src" / "commands" / "push.ts" in files
    assert missing_doc_paths(ROOT, files) == []


def test_when_the_readme_first_run_is_parsed_then_it_has_what_readme_first_run_py_runs():
    """scripts/readme_first_run.py (a stage of make test) runs these lines on a fresh clone; here only
    its parser, so a README edit that loses a marker or a command fails in seconds."""
    spec = importlib.util.spec_from_file_location("readme_first_run", ROOT / "scripts" / "readme_first_run.py")
    first_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(first_run)
    readme = (ROOT / "README.md").read_text()
    cmds = first_run.commands(first_run.section(readme, "first-run"))
    assert cmds[0] == "make up" and cmds[-1] == "make down", cmds
    posts = [c for c in cmds if c.startswith("curl") and "/predict" in c]
    assert len(posts) == 2 and all((ROOT / c.split("-d @", 1)[1].split()[0]).is_file() for c in posts), posts
    urls = re.findall(r"http://127\.0\.0\.1:\d+[^\s|)`<]*", first_run.section(readme, "urls"))
    assert {u.split("/")[2].split(":")[1] for u in urls} >= {"8000", "8080", "5000", "9001", "9090", "9093"}, urls


def test_slugs_follow_githubs_rules():
    assert slug("The policy experiment (`rps simulate`)") == "the-policy-experiment-rps-simulate"
    assert slug("A team's size: approvals and code owners") == "a-teams-size-approvals-and-code-owners"
    assert slug("`ci-dev.yml` — pull requests into dev, test and master") == "ci-devyml--pull-requests-into-dev-test-and-master"
    assert slug("Orchestration (Airflow 3)") == "orchestration-airflow-3"


def test_when_a_page_is_too_big_or_a_link_or_doc_path_is_broken_then_the_checks_say_so(tmp_path):
    (tmp_path / "docs").mkdir()
    big = tmp_path / "docs" / "big.md"
    big.write_text("# Big\n" + "x" * LIMIT)
    page = tmp_path / "docs" / "a.md"
    page.write_text(
        "# A page\n\n## Second `part`\n\n## Second part\n\n"
        "[ok](#second-part) [ok](#second-part-1) [ok](big.md#big) [web](https://example.com/x.md)\n"
        "`[in a code span](gone.md)`\n```\n[in a block](gone.md)\n```\n"
        "[gone](gone.md) [no anchor](big.md#nope) [no local anchor](#third)\n"
    )
    assert oversized([big, page]) == [f"{big}: {big.stat().st_size} bytes > {LIMIT}"]
    bad = broken_links([page])
    assert len(bad) == 3 and "gone.md: no such file" in bad[0] and "#nope" in bad[1] and "#third" in bad[2], bad
    code = tmp_path / "scripts" / "x.sh"
    code.parent.mkdir()
    code.write_text(
        "echo 'see docs/a.md, \"Second part\" and docs/big.md'  # fine\n"
        'die "see docs/gone.md"\n# README "Drift"\n# docs/a.md, "Nothing like it"\n# the README first run\n'
    )
    (tmp_path / "README.md").write_text("# rps\n\n## Drift moved\n")
    bad = missing_doc_paths(tmp_path, [code])
    assert len(bad) == 2 and "docs/gone.md does not exist" in bad[0] and "Nothing like it" in bad[1], bad
    (tmp_path / "README.md").write_text("# rps\n")
    assert any("README" in b and "'Drift'" in b for b in missing_doc_paths(tmp_path, [code]))
