"""The house's layout: scripts on top, one package beneath, imports running one way, no circles."""
import ast
import subprocess
import sys

import grimp
from conftest import ROOT

# What the top level may hold besides the scripts a user runs: gunicorn's two entry files.
NOT_SCRIPTS = {"wsgi.py", "gunicorn.conf.py"}
SCRIPTS = sorted(p for p in ROOT.glob("*.py") if p.name not in NOT_SCRIPTS)
SCRIPT_NAMES = {p.stem for p in SCRIPTS} | {"wsgi"}


def test_every_python_file_at_the_top_is_a_script_a_user_runs():
    for path in SCRIPTS:
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name}: no docstring saying how to run it"
        assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body), path.name
        assert "if __name__ == \"__main__\":" in path.read_text(), path.name


def test_the_package_imports_on_its_own():
    run = subprocess.run([sys.executable, "-c", "import risk; print(risk.ROOT)"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(ROOT)


def test_imports_run_down_the_floors():
    # import-linter's layers contract, in .importlinter beside the scripts. In a process of its
    # own: its command line reconfigures logging, which would silence the other tests' loggers.
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                          "sys.exit(lint_imports(config_filename='.importlinter', no_cache=True))"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while (w := stack.pop()) != v:
                part.append(w)
            if part:
                found.append(sorted([v, *part]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_in_the_package_even_inside_functions():
    g = grimp.build_graph("risk", exclude_type_checking_imports=True, cache_dir=None)
    graph = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _imported_names(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_imports_a_script_but_tests_and_benchmarks():
    package = sorted((ROOT / "risk").rglob("*.py"))
    for path in [*package, *SCRIPTS]:
        scripts = _imported_names(path) & (SCRIPT_NAMES - {path.stem})
        assert not scripts, f"{path.relative_to(ROOT)} imports the script(s) {sorted(scripts)}"
