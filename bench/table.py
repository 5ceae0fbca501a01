"""Printing the benchmarks' tables (plain text, aligned columns, a rule under the header)."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> None:
    """Print ``rows`` under ``header``; the first ``left`` columns are left-aligned, the rest right."""
    lines = [list(header), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"\n{title}\n")
    for n, line in enumerate(lines):
        print(
            "  ".join(
                cell.ljust(widths[i]) if i < left else cell.rjust(widths[i]) for i, cell in enumerate(line)
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
