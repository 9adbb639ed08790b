"""The seams the code is built on: the page and the CLI use the facade, the product never imports
the yardstick, and nothing outside ``rag/`` reaches into an ``Assistant``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STDLIB = sys.stdlib_module_names


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from rag import x`` gives "rag")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


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


INTERNALS = {"index", "encoder", "settings", "index_dir", "abstainer", "_settings", "_collection", "_store", "_encoder", "_abstainer"}
ASSISTANTS = {"assistant", "news", "copy", "reopened", "built", "serving", "other"}  # how code here names an Assistant


def test_no_caller_outside_the_library_touches_an_assistants_internals():
    for folder in ("eval/rag_eval", "ui/rag_ui", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in INTERNALS and isinstance(node.value, ast.Name):
                    assert node.value.id not in ASSISTANTS, (path.name, node.attr, node.lineno)


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
