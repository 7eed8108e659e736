"""Switch on the features that watch every load (validation gate, KPI summaries), from the settings.

Both the CLI and the server call ``install(settings)`` once when they open a store, so a load behaves the same
whichever way it arrives. Hooks are registered in ``threadline.ingest.hooks``; calling ``install`` again
replaces them instead of stacking duplicates.
"""

from __future__ import annotations

from threadline.config import Settings
from threadline.ingest import hooks

_installed: list[hooks.Hook] = []


def install(settings: Settings, *, server: bool = False) -> None:
    """``server``: the long-running service, where KPI refreshes may run in the background."""
    for hook in _installed:
        hooks.unregister(hook)
    _installed.clear()
    from threadline import kpi

    kpi.refresher.background = server and settings.kpi_summaries and settings.kpi_refresh_background
    if settings.kpi_summaries:
        _installed.append(hooks.after_commit(kpi.refresh_after_load))
    if settings.validation_gate:
        from threadline.shacl.gate import LoadGate
        from threadline.shacl.service import shapes_dir
        from threadline.shacl.shapes import load_profile

        gate = LoadGate(lambda profile: load_profile(shapes_dir(settings), profile), settings.validation_gate)
        _installed.extend(gate.install())
    if settings.kpi_summaries:  # after the gate: a rejected load need not be planned
        from threadline.kpi import delta as kpi_delta

        _installed.append(hooks.before_commit(kpi_delta.plan_load))


def uninstall() -> None:
    """Remove every hook ``install`` registered (tests that built an app with a gate clean up with this)."""
    for hook in _installed:
        hooks.unregister(hook)
    _installed.clear()
