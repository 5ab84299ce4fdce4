"""The command palette's entries: the main actions of the screen it was opened from, taken from its key
bindings, so that the palette and the keys can never disagree."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class LabCommands(Provider):
    def _entries(self) -> list[tuple[str, str, partial]]:
        entries = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.id and active.enabled:
                title = f"{binding.description} ({self.app.get_key_display(binding)})"
                entries.append((title, binding.tooltip, partial(self.app.run_action, binding.action, active.node)))
        return entries

    async def discover(self) -> Hits:
        for title, help_text, command in self._entries():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._entries():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)
