"""The house's layers hold: import-linter's contracts (pyproject.toml) and no
import cycles between modules or between packages."""

from __future__ import annotations

import subprocess

import grimp

from agi_app.settings import PROJECT_ROOT

LAYERS = ("core", "service", "adapters", "tools", "entry")  # bottom to top


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("agi_app", cache_dir=None)


def test_import_linter_contracts_are_kept() -> None:
    proc = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "lint-imports"), "--no-cache"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 broken" in proc.stdout


def test_no_module_imports_itself_through_others() -> None:
    graph = _graph()
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == []


def test_no_cycles_between_packages() -> None:
    """Folder level: e.g. service.flows and service.call may not import each other
    in a loop (the modules may be acyclic and their packages still tangled)."""
    graph = _graph()
    packages = sorted(
        m for m in graph.modules if (PROJECT_ROOT / m.replace(".", "/") / "__init__.py").exists()
    )
    tangled = []
    for a in packages:
        for b in packages:
            if a < b and not (a.startswith(b + ".") or b.startswith(a + ".")):
                ab = graph.chain_exists(importer=a, imported=b, as_packages=True)
                ba = graph.chain_exists(importer=b, imported=a, as_packages=True)
                if ab and ba:
                    tangled.append(f"{a} <-> {b}")
    assert tangled == []


def test_the_listing_shows_the_layers() -> None:
    rooms = sorted(
        p.name for p in (PROJECT_ROOT / "agi_app").iterdir() if p.is_dir() and p.name[0] != "_"
    )
    assert rooms == sorted(LAYERS)
