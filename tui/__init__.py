"""Everything a person touches in a terminal, over the engine:

- `cli`: the `dermalab` command (its parser and entry, the run and result commands, table columns, progress lines).
- `app`: the Textual app (its state and ranking, feeds and child processes; `screens/`, and `widgets/` by screen
  region).
- `report`: `dermalab report`, Markdown, CSVs and PNG charts.
- `views`: what both the app and the report show, as data drawn by neither (the page's charts, the galleries).
- `text`: how numbers, measures and tables read.

`exit_codes` is shared by the command line and the app, which reads its children's exits.
"""
