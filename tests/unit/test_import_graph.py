"""The package's import graph has no cycles: every `import` and `from ... import` in `src/swingtrader`, at module
level, inside functions and under `TYPE_CHECKING` alike, read with `ast`. A cycle means two modules that cannot change
apart; the map of who imports whom is in docs/DESIGN.md."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _modules(src: Path) -> dict[str, Path]:
    found = {}
    for path in (src / "swingtrader").rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that `name` (a module or a name inside one) lives in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """module -> the modules of ours it imports (a package's `__init__` counts as the package)."""
    modules = _modules(src)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                owner = _owner(target, modules)
                if owner and owner != name:
                    graph[name].add(owner)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest closed path through the first module of `component` (breadth first inside it), start repeated
    at the end: `a -> b -> a`."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{component} is not strongly connected")


def describe(graph: dict[str, set[str]], found: list[list[str]]) -> str:
    """Each cycle as a readable block: its modules, one path around it, and who imports whom inside it."""
    blocks = []
    for component in found:
        edges = [f"    {m} imports {', '.join(sorted(graph[m] & set(component)))}" for m in component]
        blocks.append(f"cycle of {len(component)} modules: {' -> '.join(shortest_cycle(graph, component))}\n"
                      + "\n".join(edges))
    return "\n".join(blocks)


def test_the_checker_finds_a_cycle_and_shows_it():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert describe(graph, cycles(graph)) == (
        "cycle of 3 modules: a -> b -> c -> a\n    a imports b\n    b imports c\n    c imports a")
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_checker_reads_relative_lazy_and_type_checking_imports(tmp_path):
    package = tmp_path / "swingtrader"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "low.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import high\n")
    (package / "sub" / "high.py").write_text("def f():\n    from ..low import x\n")
    graph = import_graph(tmp_path)
    assert graph["swingtrader.low"] == {"swingtrader.sub.high"}
    assert graph["swingtrader.sub.high"] == {"swingtrader.low"}
    assert cycles(graph) == [["swingtrader.low", "swingtrader.sub.high"]]


def test_the_package_imports_without_cycles():
    graph = import_graph()
    assert "swingtrader.order_path.manager" in graph["swingtrader.service"]  # the graph is read, not empty
    assert "swingtrader.market.panel" in graph["swingtrader.market.bar_cache"]
    found = cycles(graph)
    assert not found, "import cycles (move the shared piece to a module below both):\n" + describe(graph, found)
