"""The design card's layout installs as its import names: a plain (non-editable) install of the project
holds rag, rag_ui (from ui/) and rag_eval (from eval/) with their data files, and the `rag serve` entry
point; the editable install in .venv maps the same names to the same folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.packaging
def test_a_plain_install_holds_the_three_packages_under_their_import_names(tmp_path):
    source = tmp_path / "source"  # a clean copy: setuptools would reuse an old build/ folder of the checkout
    # (nor the tests' caches, which tests running beside this one may be writing)
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "index", "tests", "__pycache__",
                                                                ".hypothesis", ".pytest_cache"))  # fmt: skip
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(tmp_path), str(source)],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("rag-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("rag/assistant.py", "rag/store/base.py", "rag/reader.npz", "rag/abstention.json", "rag_ui/server.py",
                     "rag_ui/page.py", "rag_eval/cli.py", "rag_eval/gold.py"):  # fmt: skip
        assert expected in names, expected
    for package in REPO.glob("rag/**/__init__.py"):  # every subpackage, e.g. rag/store/milvus/
        assert str(package.relative_to(REPO)) in names, package
    assert not any(name.startswith(("ui/", "eval/", "tests/")) for name in names)  # folders are not packages
    entry_points = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "[rag.servers]\npage = rag_ui.server:serve" in entry_points and "rag-eval = rag_eval.cli:main" in entry_points
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    imported = subprocess.run([sys.executable, "-c", "import rag, rag_ui.server, rag_eval.cli; print(rag.__file__, rag_ui.__file__, rag_eval.__file__)"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path, env={"PYTHONPATH": str(installed), "PATH": ""})  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert all(path.startswith(str(installed)) for path in imported.stdout.split()), imported.stdout


def test_the_editable_install_maps_the_import_names_to_the_cards_folders():
    found = subprocess.run([sys.executable, "-c", "import rag, rag_ui, rag_eval; print(rag.__file__, rag_ui.__file__, rag_eval.__file__)"],
                           capture_output=True, text=True, timeout=300, cwd="/")  # fmt: skip
    assert found.stdout.split() == [str(REPO / "rag" / "__init__.py"), str(REPO / "ui" / "rag_ui" / "__init__.py"),
                                    str(REPO / "eval" / "rag_eval" / "__init__.py")]  # fmt: skip


def test_the_library_imports_without_the_web_stack():
    loaded = subprocess.run([sys.executable, "-c", "import sys, rag, rag.cli; print(sorted(m for m in ('gradio', 'fastapi', 'uvicorn', 'rag_ui') if m in sys.modules))"],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
