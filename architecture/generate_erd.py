"""`make erd`: draw architecture/erd.svg from the SQLAlchemy models.

The Order API's tables (its PostgreSQL) come first; below them each simulator's ledger, which
lives in an SQLite file of that simulator's own, in a group of its own.

Plain SVG written by hand: no Graphviz binary is available on the project's machines, and a
fixed layout reads better than an automatic one for a dozen tables. Tables missing from a
source's layout (a new model) still appear, in an extra column of its group, so the diagram never
silently drops one. The output has no timestamp, so a regenerated file diffs only on change.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import Column, Dialect, MetaData, Table, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite

from foundation.models import Base
from simulators.carrier.models import Base as CarrierBase
from simulators.payment_gateway.models import Base as GatewayBase

OUTPUT = Path(__file__).resolve().parent / "erd.svg"


@dataclass(frozen=True)
class Source:
    """One database the diagram shows: its tables, where they live, and how to lay them out."""

    key: str
    metadata: MetaData
    dialect: Dialect
    title: str
    note: str
    # Columns of tables, left to right, each listed top to bottom.
    layout: list[list[str]]


SIMULATOR_NOTE = "a stand-in third party: reference holds the order id as text, no FK"
SOURCES = [
    Source(
        "order-api",
        Base.metadata,
        postgresql.dialect(),  # type: ignore[no-untyped-call]
        "Order API (PostgreSQL, schema public)",
        "written by the API and the activities; migrations/ is the only way the schema is made",
        # Orders sit in the middle so every foreign key into them is a short line from a
        # neighbouring column.
        [
            ["idempotency_keys", "dead_letters"],
            ["orders"],
            ["order_items", "order_status_history", "stock_reservations"],
            ["products"],
        ],
    ),
    Source(
        "payment-gateway",
        GatewayBase.metadata,
        sqlite.dialect(),
        "Payment gateway simulator (its own SQLite file)",
        SIMULATOR_NOTE,
        [["charges"], ["refunds"], ["attempts"]],
    ),
    Source(
        "carrier",
        CarrierBase.metadata,
        sqlite.dialect(),
        "Carrier simulator (its own SQLite file)",
        SIMULATOR_NOTE,
        [["shipments"], ["attempts"]],
    ),
]

FONT_MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FONT_SANS = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO_SIZE = 12
# Monospace advance is 0.6 em in the fonts above; widths are computed, not measured.
CHAR_W = MONO_SIZE * 0.6
FOOT_SIZE = 11
FOOT_CHAR_W = FOOT_SIZE * 0.6
HEADER_H = 26
ROW_H = 18
FOOT_H = 15
PAD = 8
MARKER_CHARS = 6
COL_GAP = 70
ROW_GAP = 26
GROUP_PAD = 20
GROUP_TITLE_H = 46
GROUP_GAP = 30
MARGIN = 20
TITLE_H = 60

ORDER_COLORS = ("#e9f1fa", "#2f5d8a", "#9db8d6")
SIM_COLORS = ("#f5f1ea", "#7a6448", "#cdbfa8")
EDGE_COLOR = "#44505c"


def _sql_type(column: Column[object], dialect: Dialect) -> str:
    rendered = str(column.type.compile(dialect=dialect)).lower()
    rendered = rendered.replace("timestamp with time zone", "timestamptz")
    return rendered + ("?" if column.nullable else "")


def _markers(table: Table, column: Column[object]) -> str:
    indexed_alone = any(
        [c.name for c in index.columns] == [column.name]
        and index.dialect_options["postgresql"].get("where") is None
        for index in table.indexes
    )
    marks = [
        mark
        for mark, present in (
            ("PK", column.primary_key),
            ("FK", bool(column.foreign_keys)),
            ("UQ", bool(column.unique)),
            ("IX", indexed_alone),
        )
        if present
    ]
    return " ".join(marks[:2])


def _footers(table: Table) -> list[str]:
    """Composite uniques and indexes that a column marker cannot show."""
    lines = []
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) > 1:
            lines.append(f"unique ({', '.join(c.name for c in constraint.columns)})")
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        where = index.dialect_options["postgresql"].get("where")
        if len(index.columns) > 1 or where is not None:
            cols = ", ".join(c.name for c in index.columns)
            suffix = f" where {where}" if where is not None else ""
            lines.append(f"index ({cols}){suffix}")
    return lines


@dataclass
class Box:
    table: Table
    dialect: Dialect
    x: float = 0.0
    y: float = 0.0
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    footers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        columns = self.table.columns
        self.rows = [(_markers(self.table, c), c.name, _sql_type(c, self.dialect)) for c in columns]
        self.footers = _footers(self.table)

    @property
    def title(self) -> str:
        return self.table.fullname

    @property
    def name_chars(self) -> int:
        return max(len(name) for _, name, _ in self.rows)

    @property
    def width(self) -> float:
        type_chars = max(len(kind) for _, _, kind in self.rows)
        body = (MARKER_CHARS + self.name_chars + 2 + type_chars) * CHAR_W
        foot = max((len(line) for line in self.footers), default=0) * FOOT_CHAR_W
        head = len(self.title) * 13 * 0.62
        return round(max(body, foot, head) + 2 * PAD)

    @property
    def height(self) -> float:
        foot = len(self.footers) * FOOT_H + (PAD if self.footers else 0)
        return HEADER_H + len(self.rows) * ROW_H + PAD + foot

    def row_y(self, column: str) -> float:
        """The vertical middle of a column's row, where a foreign-key line meets the box."""
        index = [name for _, name, _ in self.rows].index(column)
        return self.y + HEADER_H + 4 + index * ROW_H + ROW_H / 2

    @property
    def right(self) -> float:
        return self.x + self.width


@dataclass
class Group:
    source: Source
    columns: list[list[Box]]
    x: float = 0.0
    y: float = 0.0

    def column_width(self, n: int) -> float:
        return max(box.width for box in self.columns[n])

    @property
    def width(self) -> float:
        inner = sum(self.column_width(n) for n in range(len(self.columns)))
        return inner + COL_GAP * (len(self.columns) - 1) + 2 * GROUP_PAD

    @property
    def height(self) -> float:
        tallest = max(
            sum(box.height for box in column) + ROW_GAP * (len(column) - 1)
            for column in self.columns
        )
        return GROUP_TITLE_H + tallest + GROUP_PAD

    def place(self, x: float, y: float) -> None:
        self.x, self.y = x, y
        left = x + GROUP_PAD
        for n, column in enumerate(self.columns):
            top = y + GROUP_TITLE_H
            for box in column:
                box.x, box.y = left, top
                top += box.height + ROW_GAP
            left += self.column_width(n) + COL_GAP


def build_groups(sources: Iterable[Source]) -> list[Group]:
    groups = []
    for source in sources:
        found = {table.fullname: table for table in source.metadata.tables.values()}
        if not found:
            continue

        def box(name: str, source: Source = source, found: dict[str, Table] = found) -> Box:
            return Box(found[name], source.dialect)

        columns = [[box(n) for n in column if n in found] for column in source.layout]
        placed = {n for column in source.layout for n in column}
        extra = [box(n) for n in sorted(found) if n not in placed]
        columns = [c for c in columns if c] + ([extra] if extra else [])
        groups.append(Group(source, columns))
    return groups


def _text(x: float, y: float, content: str, **attrs: str | float) -> str:
    rendered = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" {rendered}>{escape(content)}</text>'


def draw_box(box: Box, group: Group, colors: tuple[str, str, str]) -> list[str]:
    _, header, border = colors
    out = [
        f'<g class="table" id="{escape(group.source.key)}.{escape(box.title)}">',
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}"'
        f' rx="4" fill="#ffffff" stroke="{border}"/>',
        f'<path d="M{box.x:.1f},{box.y + 4:.1f} a4,4 0 0 1 4,-4 h{box.width - 8:.1f}'
        f' a4,4 0 0 1 4,4 v{HEADER_H - 4} h{-box.width:.1f} z" fill="{header}"/>',
        _text(
            box.x + PAD,
            box.y + 17.5,
            box.title,
            font_family=FONT_SANS,
            font_size=13,
            font_weight="bold",
            fill="#ffffff",
        ),
    ]
    name_x = box.x + PAD + MARKER_CHARS * CHAR_W
    type_x = name_x + (box.name_chars + 2) * CHAR_W
    for n, (marker, name, kind) in enumerate(box.rows):
        base = box.y + HEADER_H + 4 + n * ROW_H + 13
        if n % 2:
            out.append(
                f'<rect x="{box.x + 1:.1f}" y="{base - 13:.1f}" width="{box.width - 2:.1f}"'
                f' height="{ROW_H}" fill="#f4f6f8"/>'
            )
        if marker:
            out.append(
                _text(box.x + PAD, base, marker, font_size=10, font_weight="bold", fill=header)
            )
        weight = "bold" if "PK" in marker else "normal"
        out.append(_text(name_x, base, name, font_weight=weight, fill="#1d2329"))
        out.append(_text(type_x, base, kind, fill="#6a737d"))
    foot_y = box.y + HEADER_H + len(box.rows) * ROW_H + PAD
    if box.footers:
        out.append(
            f'<line x1="{box.x:.1f}" y1="{foot_y:.1f}" x2="{box.right:.1f}" y2="{foot_y:.1f}"'
            f' stroke="{border}" stroke-dasharray="3,2"/>'
        )
    for n, line in enumerate(box.footers):
        out.append(
            _text(
                box.x + PAD,
                foot_y + 12 + n * FOOT_H,
                line,
                font_size=FOOT_SIZE,
                font_style="italic",
                fill="#57606a",
            )
        )
    out.append("</g>")
    return out


@dataclass(frozen=True)
class Edge:
    child: Box
    column: str
    parent: Box
    target: str


def find_edges(boxes: dict[str, Box]) -> list[Edge]:
    edges = []
    for box in boxes.values():
        for column in box.table.columns:
            for fk in sorted(column.foreign_keys, key=lambda f: f.target_fullname):
                parent = boxes[fk.column.table.fullname]
                edges.append(Edge(box, column.name, parent, fk.column.name))
    return edges


STROKE = f' fill="none" stroke="{EDGE_COLOR}" stroke-width="1.3"'


# End marks are plain paths, not SVG markers: orienting a marker at a path's start
# (auto-start-reverse) is SVG 2, which not every viewer or PDF tool renders.
def _crow_foot(x: float, y: float, outward: int) -> str:
    """Many: three prongs spread against the referring box, meeting 11 px out."""
    tip = x + 11 * outward
    return f'<path d="M{x:.1f},{y - 5:.1f} L{tip:.1f},{y:.1f} L{x:.1f},{y + 5:.1f}"{STROKE}/>'


def _one_bars(x: float, y: float, outward: int) -> str:
    """One: two bars across the line just outside the referenced box."""
    a, b = x + 4 * outward, x + 8 * outward
    return (
        f'<path d="M{a:.1f},{y - 5:.1f} V{y + 5:.1f} M{b:.1f},{y - 5:.1f} V{y + 5:.1f}"{STROKE}/>'
    )


def draw_edges(edges: list[Edge]) -> list[str]:
    """Elbow lines in the gap between two columns, one lane per source table so lines from
    different tables stay apart until they meet at the referenced key."""
    lanes: dict[tuple[float, float], list[str]] = {}
    routes = []
    for edge in edges:
        child, parent = edge.child, edge.parent
        if parent.x >= child.right:
            start, end = child.right, parent.x
        elif parent.right <= child.x:
            start, end = child.x, parent.right
        else:  # stacked in one column: loop round the right-hand side
            start, end = child.right, parent.right
        gap = (min(start, end), max(start, end))
        lane_list = lanes.setdefault(gap, [])
        if child.title not in lane_list:
            lane_list.append(child.title)
        routes.append((edge, start, end, gap))
    out = []
    for edge, start, end, gap in routes:
        y1, y2 = edge.child.row_y(edge.column), edge.parent.row_y(edge.target)
        lane_list = lanes[gap]
        lane = lane_list.index(edge.child.title) + 1
        if start == end:  # the loop: lanes to the right of both boxes
            mid = start + 14 * lane
        else:
            mid = gap[0] + (gap[1] - gap[0]) * lane / (len(lane_list) + 1)
        label = f"{edge.child.title}.{edge.column} → {edge.parent.title}.{edge.target}"
        out += [
            f'<g class="fk"><title>{escape(label)}</title>',
            f'<path d="M{start:.1f},{y1:.1f} H{mid:.1f} V{y2:.1f} H{end:.1f}"{STROKE}/>',
            _crow_foot(start, y1, 1 if mid >= start else -1),
            _one_bars(end, y2, 1 if mid >= end else -1),
            "</g>",
        ]
    return out


def draw_legend(x: float, y: float) -> list[str]:
    items = [
        ("PK", "primary key"),
        ("FK", "foreign key"),
        ("UQ", "unique"),
        ("IX", "indexed on its own"),
        ("type?", "nullable"),
    ]
    out = []
    for label, meaning in items:
        out.append(_text(x, y, label, font_size=11, font_weight="bold", fill="#2f5d8a"))
        out.append(_text(x + 6 + len(label) * 6.6, y, meaning, font_size=11, fill="#444c56"))
        x += 24 + (len(label) + len(meaning)) * 6.6
    out += [
        f'<path d="M{x:.1f},{y - 4:.1f} h60"{STROKE}/>',
        _crow_foot(x, y - 4, 1),
        _one_bars(x + 60, y - 4, -1),
    ]
    out.append(_text(x + 68, y, "many rows refer to one row", font_size=11, fill="#444c56"))
    return out


def render(sources: Iterable[Source]) -> str:
    groups = build_groups(sources)
    order_side, simulators = groups[0], groups[1:]
    order_side.place(MARGIN, MARGIN + TITLE_H)
    x: float = MARGIN
    sim_y = order_side.y + order_side.height + GROUP_GAP
    for group in simulators:
        group.place(x, sim_y)
        x += group.width + GROUP_GAP
    width = max(order_side.width, x - GROUP_GAP - MARGIN) + 2 * MARGIN
    height = max(g.y + g.height for g in groups) + MARGIN
    # The simulator row may be narrower; stretch the order group frame to the full width.
    frame_width = {id(order_side): width - 2 * MARGIN}

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT_MONO}"'
        f' font-size="{MONO_SIZE}">',
        "<title>Order API database schema</title>",
        "<desc>Generated from foundation.models and the simulators' models by `make erd`;"
        " do not edit by hand.</desc>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        _text(
            MARGIN,
            MARGIN + 22,
            "Order API — database schema, and the simulators' ledgers",
            font_family=FONT_SANS,
            font_size=20,
            font_weight="bold",
            fill="#1d2329",
        ),
        *draw_legend(MARGIN, MARGIN + 46),
    ]
    edges: list[Edge] = []
    for group in groups:
        colors = ORDER_COLORS if group is order_side else SIM_COLORS
        frame = frame_width.get(id(group), group.width)
        out += [
            f'<g class="schema" id="database-{escape(group.source.key)}">',
            f'<rect x="{group.x:.1f}" y="{group.y:.1f}" width="{frame:.1f}"'
            f' height="{group.height:.1f}" rx="8" fill="{colors[0]}" stroke="{colors[2]}"/>',
            _text(
                group.x + GROUP_PAD,
                group.y + 20,
                group.source.title,
                font_family=FONT_SANS,
                font_size=14,
                font_weight="bold",
                fill=colors[1],
            ),
            _text(
                group.x + GROUP_PAD,
                group.y + 36,
                group.source.note,
                font_family=FONT_SANS,
                font_size=11,
                fill="#57606a",
            ),
        ]
        # Foreign keys never leave a database, so each group's boxes are looked up on their own.
        boxes: dict[str, Box] = {}
        for column in group.columns:
            for box in column:
                boxes[box.title] = box
                out += draw_box(box, group, colors)
        out.append("</g>")
        edges += find_edges(boxes)
    out += draw_edges(edges)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    OUTPUT.write_text(render(SOURCES))
    print(
        f"wrote {OUTPUT.relative_to(Path.cwd()) if OUTPUT.is_relative_to(Path.cwd()) else OUTPUT}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
