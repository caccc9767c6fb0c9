"""The house rules as tests: arrows point down, no import cycles, an import inside a function
says why, and no file or function outgrows its reader (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import hpsearch

PACKAGE = Path(hpsearch.__file__).parent
CLI_FLOOR = {"hpsearch.cli", "hpsearch.cli_app", "hpsearch.cli_models", "hpsearch.cli_views"}
MAX_FILE_LINES = 310  # "about 300" (ARCHITECTURE.md): room for a docstring, not a concept
MAX_FUNCTION_LINES = 40  # the body, after the signature and the docstring


def _paths() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _modules() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(), str(path)) for name, path in _paths().items()}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(test, ast.Name | ast.Attribute) and "TYPE_CHECKING" in ast.unparse(test)


def _imports(tree: ast.Module) -> list[tuple[ast.stmt, str, bool]]:
    """(node, module imported, at module level?) for every import, TYPE_CHECKING ones left out."""
    found: list[tuple[ast.stmt, str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.extend((child, alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child, child.module, top))
                found.extend((child, f"{child.module}.{a.name}", top) for a in child.names)
            is_body = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, top and not is_body)

    visit(tree, True)
    return found


def test_the_engine_imports_neither_optuna_nor_mlflow() -> None:
    code = (
        "import sys, hpsearch.nn, hpsearch.data, hpsearch.train\n"
        "print(sorted(m for m in ('optuna', 'mlflow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_nothing_below_the_cli_imports_typer_or_rich() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, tree in _modules().items()
        if name not in CLI_FLOOR
        for _, imported, _ in _imports(tree)
        if imported.split(".")[0] in ("typer", "rich")
    ]
    assert offenders == []


def test_no_import_cycles() -> None:
    modules = _modules()
    edges = {
        name: {imp for _, imp, top in _imports(tree) if top and imp in modules and imp != name}
        for name, tree in modules.items()
    }
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(edges[name]):
            if name.startswith(target + "."):
                continue  # a package's own __init__, which runs first anyway
            if (cycle := walk(target, [*path, name])) is not None:
                return cycle
        done.add(name)
        return None

    cycles = [c for name in sorted(modules) if (c := walk(name, [])) is not None]
    assert cycles == []


def _reason_given(lines: list[str], index: int) -> bool:
    """A comment on the import's line, on a line of the imports just above it, or above them."""
    while index >= 0:
        line = lines[index].strip()
        if "#" in line:
            return True
        if not line.startswith(("import ", "from ")):
            return False
        index -= 1
    return False


def test_an_import_inside_a_function_says_why() -> None:
    silent = []
    for name, path in _paths().items():
        if name in CLI_FLOOR:  # cli.py's docstring says why: start-up time, for every command
            continue
        text = path.read_text()
        lines = text.splitlines()
        for node, _, top in _imports(ast.parse(text)):
            if top:
                continue
            if not _reason_given(lines, node.lineno - 1):
                silent.append(f"{name}:{node.lineno}")
    assert sorted(set(silent)) == []


def test_no_file_or_function_outgrows_its_reader() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = (
                    node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
                )
                length = (node.end_lineno or 0) - body[0].lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
