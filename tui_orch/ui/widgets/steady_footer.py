"""A footer that rebuilds its keys only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

BindingsShown = tuple[tuple[str, str, str, bool, bool, str], ...]


class SteadyFooter(Footer):
    """Textual's Footer, minus the needless rebuilds.

    The stock footer removes and mounts all its keys (a restyle each) whenever focus
    moves or a screen comes back, even when the same keys apply: Tab between agent
    panes, or the dashboard returning after an approval, cost tens of milliseconds
    while agents stream. Here a rebuild happens only when the keys differ.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: BindingsShown | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = _bindings_shown(screen)
        if shown == self._shown:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # the stock footer rebuilds now
        super().bindings_changed(screen)


def _bindings_shown(screen: Screen[object]) -> BindingsShown:
    return tuple(
        (key, binding.action, binding.description, binding.show, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
    )
