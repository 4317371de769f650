"""The package's layout: no import cycles (imports inside functions count), small modules."""

import ast
import os

import pytest

from conftest import REPO_ROOT

PACKAGE = os.path.join(REPO_ROOT, "anime_gan")
MAX_LINES = 300


def modules():
    """{dotted module name: path} for every module of the package."""
    found = {}
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                dotted = os.path.relpath(path, REPO_ROOT)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def project_imports(module, path, known):
    """The project modules ``module`` imports anywhere in its code, functions included.

    ``from X import Y`` counts as importing X.Y when that is a module, else X.
    """
    imported = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = module.split(".")
                is_package = path.endswith("__init__.py")
                anchor = parts[:len(parts) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                imported.add(candidate if candidate in known else base)
    return {name for name in imported if name in known and name != module}


def find_cycle(graph):
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target, stack + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def test_no_import_cycles():
    known = modules()
    graph = {name: project_imports(name, path, known) for name, path in known.items()}
    assert "anime_gan.training" in graph["anime_gan.commands"]  # the graph is read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(modules()))
def test_modules_stay_small(module):
    with open(modules()[module]) as f:
        assert len(f.readlines()) <= MAX_LINES
