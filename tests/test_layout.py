"""The installed product stands alone: nothing in bilm imports the studies of a checkout."""

from __future__ import annotations

import ast
from pathlib import Path

PRODUCT = Path(__file__).resolve().parent.parent / "python"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_product_never_imports_the_studies():
    sources = sorted(PRODUCT.rglob("*.py"))
    assert len(sources) > 20
    offenders = [str(p.relative_to(PRODUCT)) for p in sources
                 if any(name == "studies" or name.startswith("studies.") for name in imported_modules(p))]
    assert offenders == []
