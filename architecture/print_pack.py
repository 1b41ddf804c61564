"""`make print-pack`: the project's Markdown documents as one A4 PDF, Order-API-Print-Pack.pdf.

pandoc (from pypandoc-binary) turns the Markdown into Typst source and the `typst` package
compiles it in-process: that package is a Python binding with no `typst` executable, so
pandoc's `--pdf-engine=typst` cannot be used. Documents that do not exist yet are skipped
and named, so the pack can be printed at any stage.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import typst

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "Order-API-Print-Pack.pdf"
TITLE = "Order API — print pack"


def documents() -> tuple[list[Path], list[str]]:
    """The pack's order: overview, decisions, schema, operations, tests, load test, the brief."""
    wanted = [
        "README.md",
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "adrs").glob("*.md")),
        "architecture/packages.md",
        "architecture/schema.md",
        "runbook.md",
        "tests/coverage-summary.md",
        # Rewritten by every `make bench`; the committed one is from a real run.
        "bench/report.md",
        "observability/checklist.md",
        "interview-brief.md",
    ]
    found = [ROOT / name for name in wanted if (ROOT / name).is_file()]
    missing = [name for name in wanted if not (ROOT / name).is_file()]
    return found, missing


def pandoc() -> Path:
    spec = importlib.util.find_spec("pypandoc")
    if spec is None or spec.origin is None:
        raise SystemExit("pypandoc-binary is not installed; run `make .venv/.installed`")
    return Path(spec.origin).parent / "files" / "pandoc"


IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)\s*$", re.MULTILINE)
# A link to another file of the repository means nothing on paper; keep its text only.
LOCAL_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?!https?:|mailto:|#)[^)\s]+\)")


def _typst_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def for_print(doc: Path) -> str:
    """One document as Markdown for the pack: on a new page, its diagrams after its text."""
    here = doc.parent.relative_to(ROOT)
    diagrams: list[str] = []

    def lift(match: re.Match[str]) -> str:
        src = match["src"]
        if re.match(r"^[a-z]+:", src):
            return match[0]
        # "/" is the Typst project root, which is the repository.
        path = "/" + (here / src).as_posix().removeprefix("./")
        # A schema diagram is wide and its print small: a landscape page of its own keeps it
        # legible, and at the end it leaves no half-empty page in the middle of the text.
        diagrams.append(
            "```{=typst}\n"
            f"#page(flipped: true, margin: 1cm)[#align(center + horizon)[#figure("
            f"image({_typst_string(path)}, width: 100%), "
            f"caption: [{match['alt']}])]]\n"
            "```"
        )
        return ""

    text = IMAGE.sub(lift, doc.read_text())
    text = LOCAL_LINK.sub(lambda m: m["text"], text)
    return "\n\n".join(["```{=typst}\n#pagebreak(weak: true)\n```", text, *diagrams])


# Set inside the document, after pandoc's template has applied its own defaults. No `set page`
# here: it would start a new page and leave the title alone on the first.
STYLE = """
#set par(justify: false)
#set table(stroke: 0.5pt + luma(170), inset: 5pt)
#show table.cell.where(y: 0): set text(weight: "bold")
#show table: set align(left)
// Long tables continue on the next page instead of overflowing this one.
#show figure.where(kind: table): set block(breakable: true)
#show raw.where(block: true): set text(size: 7.5pt)
// Long identifiers in inline code may break after an underscore instead of running off a cell.
#show raw.where(block: false): it => {
  show "_": "_" + sym.zws
  it
}
#show raw.where(block: true): it => block(
  fill: luma(245), inset: 6pt, radius: 2pt, width: 100%, it)
#show heading.where(level: 1): set text(size: 1.5em)
"""


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "outside git"
    return f"commit {head}" + (" with uncommitted changes" if dirty else "")


def to_typst(markdown: str, subtitle: str) -> str:
    return subprocess.run(
        [
            str(pandoc()),
            "--from=gfm+raw_attribute",
            "--to=typst",
            "--standalone",
            f"--metadata=title:{TITLE}",
            f"--metadata=date:{subtitle}",
            "--variable=papersize:a4",
            "--variable=margin.x:2cm",
            "--variable=margin.y:2.2cm",
            "--variable=mainfont:Libertinus Serif",
            "--variable=codefont:DejaVu Sans Mono",
            "--variable=fontsize:10pt",
            "--variable=page-numbering:1",
            "--variable=toc:true",
            "--variable=toc-depth:1",
            f"--variable=include-before:{STYLE}",
        ],
        input=markdown,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main() -> int:
    found, missing = documents()
    if not found:
        print("print-pack: no documents found", file=sys.stderr)
        return 1
    markdown = "\n\n".join(for_print(doc) for doc in found)
    subtitle = f"{commit()}, {datetime.now(UTC):%Y-%m-%d}"
    source = to_typst(markdown, subtitle)
    pdf = typst.Compiler(root=str(ROOT)).compile(input=source.encode(), format="pdf")
    assert isinstance(pdf, bytes)
    OUTPUT.write_bytes(pdf)
    for doc in found:
        print(f"  included  {doc.relative_to(ROOT)}")
    for name in missing:
        print(f"  skipped   {name} (not written yet)")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
