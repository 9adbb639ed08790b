"""The seams the code is built on, read from the code itself: no import cycles, the question's path
runs one way, the page and the CLI use the facade, the product never imports the yardstick, the
yardstick uses the facade (its training and benchmark tools excepted), and nothing outside the
library reaches into its objects' private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STDLIB = sys.stdlib_module_names


PACKAGES = {"rag": REPO / "rag", "rag_ui": REPO / "ui" / "rag_ui", "rag_eval": REPO / "eval" / "rag_eval"}


def project_modules() -> dict[str, Path]:
    """Every module of the project by its import name (a package by its own name)."""
    modules = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports, wherever the import stands (at the top, inside a
    function, under TYPE_CHECKING): ``from rag import bm25`` imports rag.bm25, ``from rag import
    Assistant`` the facade, rag."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for module in imports(path, names=True):
            while module and module not in modules:
                module = module.rpartition(".")[0]
            if module and module != name:
                found.add(module)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in graph[todo.pop()] - seen:
            seen.add(other)
            todo.append(other)
    return seen


def imports(path: Path, names: bool = False) -> set[str]:
    """Every module ``path`` imports (``from rag import x`` gives "rag"; with ``names``, "rag.x",
    which ``import_graph`` resolves to the module rag.x when there is one, else to rag)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path}: a relative import"  # the graph reads absolute ones
            found |= {f"{node.module}.{alias.name}" for alias in node.names} if names else {node.module}
    return found


def test_no_import_cycles_among_the_projects_modules():
    """A cycle hidden behind a function-level import is still a cycle: the graph holds every import."""
    assert cycles(import_graph()) == []


# The question's path, in the order it runs: a stage never imports, even through others, one that runs
# after it. Shared types live with the stage that makes them (``Reading`` in rag.reader).
QUESTION_PATH = ["rag.query", "rag.retrieve", "rag.reader", "rag.rerank", "rag.answer", "rag.assistant"]
# Interfaces and leaves that must stay apart from what implements or reads files.
NEVER_REACHES = {
    "rag.encoder": {"rag.embed", "rag.model", "rag.config"},  # the interface, not the encoders or their settings
    "rag.reader": {"rag.reader_export", "rag.model"},  # reading needs the graph, not the export (torch)
    "rag.store.base": {"rag.corpus", "rag.formats", "rag.pdf", "rag.word"},  # storage knows documents, not files
    "rag.document": set(PACKAGES) | {"rag.errors", "rag.files"},  # a leaf: nothing of the project
}


def test_the_question_path_runs_one_way_and_interfaces_stay_apart_from_implementations():
    graph = import_graph()
    for position, stage in enumerate(QUESTION_PATH):
        later = set(QUESTION_PATH[position + 1 :])
        assert not reaches(graph, stage) & later, (stage, reaches(graph, stage) & later)
    for module, forbidden in NEVER_REACHES.items():
        assert not reaches(graph, module) & forbidden, (module, reaches(graph, module) & forbidden)
    assert graph["rag.document"] == set()


def test_the_page_imports_only_the_facade_gradio_and_the_standard_library():
    for path in (REPO / "ui" / "rag_ui").glob("*.py"):
        for module in imports(path):
            top = module.split(".")[0]
            assert module == "rag" or top == "rag_ui" or top in {"gradio", "fastapi", "fastapi_offline", "starlette", "uvicorn", "pydantic"} or top in STDLIB, (path.name, module)


def test_the_cli_uses_the_facade_and_settings_only():
    allowed = {"rag", "rag.config", "rag.errors"}
    for module in imports(REPO / "rag" / "cli.py"):
        assert module in allowed or module.split(".")[0] in STDLIB | {"typer", "rich"}, module


def test_the_product_never_imports_the_yardstick():
    for path in (REPO / "rag").rglob("*.py"):
        assert not any(module.split(".")[0] in {"rag_eval", "rag_ui", "gradio", "fastapi", "ranx", "sklearn", "matplotlib"} for module in imports(path)), path


def test_nothing_reads_gradios_private_event_data():
    for path in (REPO / "ui" / "rag_ui").glob("*.py"):
        assert "._data" not in path.read_text(encoding="utf-8"), path


def test_the_store_interface_loads_no_document_parsers():
    """Storage knows documents by their schema (``rag.document``), never by how files are read."""
    code = "import sys, rag.store.base; print(sorted({'pypdfium2', 'docx', 'lxml'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout.strip()
    assert loaded == "[]"


# The yardstick measures the product as users get it: through the facade, ``rag``. These tools need
# the engine's parts themselves (training them, or benchmarking one part alone), and say why in a
# docstring paragraph that starts "Past the facade:".
HARNESS_PAST_THE_FACADE = {
    "adapter": "trains the query adapter inside the model",
    "reader_training": "trains the reader",
    "reader_metrics": "scores the reader alone",
    "stages": "times each store call of retrieval, one at a time",
    "filter_bench": "times filter resolution against a view's documents, walked and indexed",
    "fitting": "fits the abstention model",
    "datasets": "reads public datasets as the corpus reads articles",
    "perf": "benchmarks the encoder and FAISS alone",
    "scale": "measures the local store's approximate search against exact search",
}


def test_the_harness_reaches_the_engine_only_through_the_facade_but_its_training_and_benchmark_tools():
    for path in sorted((REPO / "eval" / "rag_eval").glob("*.py")):
        internals = sorted(module for module in imports(path) if module.startswith("rag."))
        if path.stem in HARNESS_PAST_THE_FACADE:
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            assert internals, f"{path.name} needs no internals any more: take it off the list"
            assert "Past the facade:" in docstring, f"{path.name} must say why it needs {internals}"
        else:
            assert not internals, (path.name, internals)


# Private names (``_x``) read or set outside the module that defines them, by callers of the library:
# (file, expression) → why it is needed. Everything else is found whatever the variable is called.
PRIVATE_ACCESS_ALLOWED = {
    ("eval/rag_eval/milvus_server.py", "milvus._initialize_data_files"): "the milvus package has no public call to lay out its data folder",
    ("tests/netaudit.py", "sys._getframe"): "the network audit names the code that opened a connection",
    ("tests/rag/store/test_contract.py", "MilvusStore._publish"): "kills a writer at the store's commit point",
    ("tests/store_process.py", "MilvusStore._publish"): "kills a writer at the store's commit point",
    ("tests/rag/test_word.py", "paragraph._p"): "python-docx has no public way to write a tracked insertion",
    ("tests/forked.py", "os._exit"): "a forked child ends without running the clean-up of the process it was forked from",
}
CALLERS = ("eval/rag_eval", "ui/rag_ui", "tests", "rag/cli.py")


def private_accesses(path: Path) -> set[str]:
    """``x._name`` where ``x`` is not ``self`` or ``cls`` and the file does not define ``_name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")}  # fmt: skip
    return {
        ast.unparse(node) for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        and node.attr not in defined and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    }  # fmt: skip


def test_no_caller_outside_the_library_touches_private_names():
    found = set()
    for caller in CALLERS:
        for path in [REPO / caller] if caller.endswith(".py") else sorted((REPO / caller).rglob("*.py")):
            found |= {(str(path.relative_to(REPO)), expression) for expression in private_accesses(path)}
    assert found - set(PRIVATE_ACCESS_ALLOWED) == set()
    assert set(PRIVATE_ACCESS_ALLOWED) - found == set(), "allowed but no longer needed: take it off the list"


# Tests mirror the tree: tests/<package>/test_<module>.py covers <package>/<module>.py, and the tests
# of several modules at once (processes, the network, packaging, this file) stand in tests/ itself.
TESTS_OWED = {
    "rag_ui": {"assistants", "render", "server", "fuzz"},  # the page's own work is under way (issue 23)
}


def test_test_files_mirror_the_modules_they_cover():
    for package, folder in PACKAGES.items():
        modules = {path.stem for path in folder.glob("*.py") if path.stem != "__init__"}
        tests = {path.stem.removeprefix("test_") for path in (REPO / "tests" / package).glob("test_*.py")}
        owed = TESTS_OWED.get(package, set())
        assert modules - tests - owed == set(), f"{package}: modules without a test file"
        assert tests - modules - owed == set(), f"{package}: test files named after no module"
    assert (REPO / "tests" / "rag" / "store" / "test_contract.py").is_file()  # every store, one contract
