"""A small report document written once, rendered as Markdown and as self-contained HTML."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #333; color: #fff; } td:first-child, th:first-child { text-align: left; }
td:first-child { white-space: normal; max-width: 30em; }
figure { margin: 0.5em 0 1.5em; } figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; height: auto; }
.note { background: #f3f3f3; padding: 0.6em 1em; border-left: 4px solid #888; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  table { font-size: 0.75em; } figure, tr { break-inside: avoid; } h2 { break-after: avoid; }
}
"""


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    text: str
    note: bool = False


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


Block = Heading | Text | Table | Figure


@dataclass
class Document:
    """Blocks in order: headings, paragraphs, tables and figures (PNG files beside the report)."""

    title: str
    folder: Path
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Heading(level, text))

    def text(self, paragraph: str) -> None:
        self.blocks.append(Text(paragraph))

    def note(self, paragraph: str) -> None:
        self.blocks.append(Text(paragraph, note=True))

    def table(self, frame: pl.DataFrame, digits: int = 3) -> None:
        rows = [[_cell(v, digits) for v in row] for row in frame.iter_rows()]
        self.blocks.append(Table(frame.columns, rows))

    def figure(self, path: Path, caption: str) -> None:
        self.blocks.append(Figure(path, caption))

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for block in self.blocks:
            if isinstance(block, Heading):
                lines += ["#" * block.level + " " + block.text, ""]
            elif isinstance(block, Text):
                lines += [("> " if block.note else "") + block.text, ""]
            elif isinstance(block, Table):
                lines.append("| " + " | ".join(map(_markdown_cell, block.header)) + " |")
                lines.append("|" + "---|" * len(block.header))
                lines += ["| " + " | ".join(map(_markdown_cell, r)) + " |" for r in block.rows]
                lines.append("")
            else:
                link = block.path.relative_to(self.folder).as_posix()
                lines += [f"![{block.caption}]({link})", ""]
        return "\n".join(lines)

    def html(self) -> str:
        """One file: figures are embedded, so the page can be mailed or logged on its own."""
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        for block in self.blocks:
            if isinstance(block, Heading):
                parts.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
            elif isinstance(block, Text):
                css = ' class="note"' if block.note else ""
                parts.append(f"<p{css}>{esc(block.text)}</p>")
            elif isinstance(block, Table):
                head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
                body = "".join(
                    "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in block.rows
                )
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                data = base64.b64encode(block.path.read_bytes()).decode("ascii")
                parts.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{esc(block.caption)}">'
                    f"<figcaption>{esc(block.caption)}</figcaption></figure>"
                )
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, stem: str = "report") -> tuple[Path, Path]:
        """``<folder>/<stem>.md`` and ``<folder>/<stem>.html``."""
        md = self.folder / f"{stem}.md"
        page = self.folder / f"{stem}.html"
        md.write_text(self.markdown(), encoding="utf-8")
        page.write_text(self.html(), encoding="utf-8")
        return md, page


def _markdown_cell(text: str) -> str:
    """A Markdown table cell: a ``|`` in the text is escaped, so it cannot add a column."""
    return text.replace("|", "\\|")
