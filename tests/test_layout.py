"""The layout by domain holds: imports go one way, packages stay small, Celery task names stay registered."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from django.conf import settings

from recovery.celery import app

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULES = 15
# Names messages were queued under before the move: a deploy must never strand one.
REGISTERED_BEFORE_THE_MOVE = {
    "recovery.tasks.notify_event",
    "recovery.tasks.sweep_unsent_notifications",
    "recovery.tasks.verify_event_chain",
    "recovery.tasks.scan_network",
    "recovery.tasks.scan_all_networks",
    "recovery.tasks.refund_advance",
    "recovery.tasks.case_execute",
    "recovery.tasks.sweep_approved_cases",
    "recovery.tasks.sweep_stuck_refunds",
    "recovery.tasks.deposits_triage",
    "recovery.tasks.sweep_untriaged_deposits",
    "recovery.staff_tasks.flag_sla_deadlines",
    "recovery.reconcile_tasks.reconcile_networks",
}


def modules() -> dict[str, Path]:
    found = {}
    for path in [*ROOT.glob("recovery/**/*.py"), *ROOT.glob("chains/**/*.py")]:
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Every import, at module level or inside a function (a lazy import dodging a cycle counts too)."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(f"{target}."):
                    graph[name].add(target)
    return graph


def package_of(module: str) -> str:
    """recovery.<sub> for the modules of a sub-package (recovery.models too), else the top package: the
    project's own modules (settings, urls, admin, celery) sit above every sub-package."""
    parts = module.split(".")
    if parts[0] == "recovery" and len(parts) > 1 and (ROOT / "recovery" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as a path, or [] (depth-first search with colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_module_imports_one_that_imports_it_back():
    assert cycle_in(import_graph()) == []


def test_packages_import_one_way():
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph().items():
        for target in targets:
            if package_of(module) != package_of(target):
                packages[package_of(module)].add(package_of(target))
    assert cycle_in(packages) == []
    assert not [m for m, targets in import_graph().items() if m.startswith("chains") and any(
        t.startswith("recovery") for t in targets
    )]  # fmt: skip


def test_no_package_holds_more_than_fifteen_modules_side_by_side():
    sizes: dict[Path, int] = defaultdict(int)
    for path in modules().values():
        if path.name != "__init__.py":
            sizes[path.parent.relative_to(ROOT)] += 1
    assert {str(folder): n for folder, n in sizes.items() if n > MAX_MODULES} == {}


def test_every_task_keeps_the_name_it_was_registered_under():
    app.loader.import_default_modules()
    assert set(app.tasks) >= REGISTERED_BEFORE_THE_MOVE


def test_every_route_and_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(settings.CELERY_TASK_ROUTES) <= set(app.tasks)
    assert scheduled <= set(app.tasks)


def test_money_leaves_through_one_door():
    """Only recovery/payouts/signing.py asks a signer to sign (it re-checks a refund's approved terms)."""
    signing_calls = [
        str(path.relative_to(ROOT))
        for path in ROOT.glob("recovery/**/*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sign"
    ]
    assert set(signing_calls) == {"recovery/payouts/signing.py"}
