"""The bottom line of every screen: its keys and what they do, as many as fit, each one whole.

What fits is chosen in order: `?` and `q` always, then the screen's own keys in the order the screen declares
them (most important first), then the app's keys for moving between views, then the palette. Whatever does not
fit is on `?`'s list. Textual's Footer rebuilds a widget per key whenever the screen changes, which made
switching views several times slower; one line of text, redrawn only when its width changes, does not."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.widgets import Static

PALETTE = ("ctrl+p", "Palette")
ALWAYS = ("keys", "quit")  # binding ids shown whatever the width

Entry = tuple[str, str]  # key, description


# every screen opened from another goes back with escape
BACK = Binding("escape", "app.pop_screen", "Back", id="back", tooltip="Back to the screen this one was opened from")


def retitle(screen: Screen, action: str, words: tuple[str, str] | None) -> None:
    """The key of `action` with other words (description, tooltip) on this screen alone, where they follow what it
    shows (a set's critical classes); None keeps the declared ones. Textual keeps a copy of the declared bindings per
    screen, and the key line and `?` read that copy."""
    if words is None:
        return
    bindings = screen._bindings.key_to_bindings
    for key, found in bindings.items():
        bindings[key] = [replace(binding, description=words[0], tooltip=words[1]) if binding.action == action
                         else binding for binding in found]


def our_bindings(active: dict[str, ActiveBinding]) -> list[Binding]:
    """The bindings this app declares (they all have an id), not the widgets' own scrolling keys."""
    return [entry.binding for entry in active.values() if entry.binding.id]


def width(entry: Entry) -> int:
    return len(entry[0]) + len(entry[1]) + 2  # a space before the key and one after it


def fitting(entries: list[Entry], groups: list[list[int]], room: int) -> list[Entry]:
    """The entries, in their own order, that fit in `room` columns when `groups` of indexes are taken in turn,
    each group whole or not at all."""
    chosen: set[int] = set()
    used = 0
    for group in groups:
        needed = sum(width(entries[index]) for index in group)
        if used + needed <= room:
            chosen.update(group)
            used += needed
    return [entry for index, entry in enumerate(entries) if index in chosen]


class KeyLine(Static):
    """A screen's keys with `show=False` are a pair or more that only make sense together (mark, then combine):
    they come after its other keys, all of them or none."""

    COMPONENT_CLASSES = {"key-line--key"}

    def on_mount(self) -> None:
        here = self.app.MODES.get(self.app.current_mode) is type(self.screen)
        own: list[Entry] = []
        pairs: list[Entry] = []
        app_keys: list[Entry] = []
        always: list[Entry] = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            # system: a key the `?` list names but this line has no room for (tab between a view's jobs)
            this_view = here and binding.action == f"switch_mode('{self.app.current_mode}')"
            if not binding.id or binding.system or this_view:
                continue
            entry = (self.app.get_key_display(binding), binding.description)
            if binding.id in ALWAYS:
                always.append(entry)
            elif isinstance(active.node, App):
                app_keys.append(entry)
            else:
                (own if binding.show else pairs).append(entry)
        self.entries = [*own, *pairs, *app_keys, PALETTE, *always]
        indexes = iter(range(len(self.entries)))
        own_at, pairs_at, app_at = ([next(indexes) for _ in part] for part in (own, pairs, app_keys))
        palette_at, always_at = [next(indexes)], list(indexes)
        self.groups = [always_at, *([i] for i in own_at), pairs_at, *([i] for i in app_at), palette_at]

    def on_resize(self, event: events.Resize) -> None:
        key_style = self.get_component_rich_style("key-line--key")
        line = Text(no_wrap=True)
        for key, description in fitting(self.entries, self.groups, event.size.width - 1):  # a space at the end
            line.append(f" {key}", style=key_style)
            line.append(f" {description}")
        self.update(line)
