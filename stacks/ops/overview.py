"""`overview [--format text|markdown|json|html]`: every stack side by side (core/overview.py
decides what each cell is; this only draws it). The html form is one self-contained page (no
external asset, no script) a reviewer can open: the stacks as columns, a colour per backend."""

from __future__ import annotations

import html
import json

from ..core.overview import KINDS, LEGACY, LEGACY_EXTERNAL, STORE_EXTERNAL, STORE_KIND, Cell, Overview
from ..core.text import md_code, md_text

# Background of each kind of cell, and of a binding a stack does not have.
COLOURS = {STORE_KIND: "#2f6fb0", STORE_EXTERNAL: "#7b4fbf", LEGACY: "#d9822b", LEGACY_EXTERNAL: "#8a6a4f"}
ABSENT = "#e6e6e6"


def _label(cell: Cell | None) -> str:
    return cell.label() if cell is not None else "-"


def render_text(o: Overview) -> str:
    names = [c.stack for c in o.stacks]
    lines = ["stacks:"]
    for c in o.stacks:
        pin = f", pinned {c.pin}" if c.pin else ""
        promote = f", promoted from {c.promote_from}" if c.promote_from else ""
        lines.append(f"  {c.stack}: account {c.account}, backend {c.backend}{pin} (credentials {c.mode}), store "
                     f"{c.store}, secret names {c.secret_name}, {c.workers} Worker(s), {c.store_secrets} store "
                     f"secret(s){promote}")
    width = max([len(f"{r.worker}.{r.binding}") for r in o.bindings] + [10])
    col = max([len(n) for n in names] + [len(_label(c)) for r in o.bindings for c in r.cells.values()])
    lines.append("")
    lines.append((f"{'binding':<{width}}  " + "  ".join(f"{n:<{col}}" for n in names)).rstrip())
    for r in o.bindings:
        lines.append(f"{r.worker + '.' + r.binding:<{width}}  " + "  ".join(f"{_label(r.cells[n]):<{col}}"
                                                                           for n in names).rstrip())
    lines.append("")
    lines.append("secrets:")
    for s in o.secrets:
        places = "; ".join(f"{n}: {s.places[n] or 'not held'}" for n in names)
        lines.append(f"  {s.secret}{' (external)' if s.external else ''}: {places}")
    return "\n".join(lines)


def render_markdown(o: Overview) -> str:
    """Tables of names and settings read from the manifest and the stack files: every one in a code
    span or escaped for a table cell (core/text.py)."""
    names = [c.stack for c in o.stacks]

    def code(text: str) -> str:
        return md_code(text, table=True)

    def cell(text: str) -> str:
        return md_text(text, table=True)

    def binding_cell(c: Cell | None) -> str:
        # The copy's binding name is a name the code reads: a code span, as every other name here.
        if c is None or not c.copy:
            return cell(_label(c))
        return f"{cell(c.kind)} + copy {code(c.copy_binding)}"

    lines = ["| stack | account | backend | pin | credentials | store | secret names |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {code(c.stack)} | {code(c.account)} | {cell(c.backend)} | {cell(c.pin or '-')} | {cell(c.mode)} | "
              f"{cell(c.store)} | {code(c.secret_name)} |" for c in o.stacks]
    lines += ["", "| Worker | binding | " + " | ".join(code(n) for n in names) + " |", "|---|---|" + "---|" * len(names)]
    lines += [f"| {code(r.worker)} | {code(r.binding)} | " + " | ".join(binding_cell(r.cells[n]) for n in names) + " |"
              for r in o.bindings]
    lines += ["", "| secret | " + " | ".join(code(n) for n in names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {code(s.secret)}{' (external)' if s.external else ''} | "
              + " | ".join(cell(s.places[n] or "-") for n in names) + " |" for s in o.secrets]
    return "\n".join(lines)


def render_json(o: Overview) -> str:
    return json.dumps(o.as_dict(), indent=2)


def _css_class(kind: str) -> str:
    return "k-" + kind.replace(" (external)", "-external")


def render_html(o: Overview) -> str:
    names = [c.stack for c in o.stacks]
    e = html.escape
    css = "\n".join(f".{_css_class(k)} {{ background: {COLOURS[k]}; color: #fff; }}" for k in KINDS)
    head = "".join(f"<th scope=col>{e(n)}</th>" for n in names)
    stack_rows = "".join(
        f"<tr><th scope=row>{e(c.stack)}</th><td>{e(c.account)}</td><td>{e(c.backend)}</td><td>{e(c.pin or '-')}</td>"
        f"<td>{e(c.mode)}</td><td>{e(c.store)}</td><td><code>{e(c.secret_name)}</code></td></tr>" for c in o.stacks)
    body = []
    for r in o.bindings:
        cells = []
        for n in names:
            cell = r.cells[n]
            attrs = f'data-stack="{e(n)}" data-worker="{e(r.worker)}" data-binding="{e(r.binding)}"'
            if cell is None:
                cells.append(f'<td class="absent" {attrs} data-kind="absent">-</td>')
            else:
                title = f' title="{e(cell.target)}"' if cell.target else ""
                cells.append(f'<td class="{_css_class(cell.kind)}" {attrs} data-kind="{e(cell.kind)}"{title}>'
                             f'{e(cell.label())}</td>')
        script = " / ".join(f"{e(o.scripts[r.worker][n])}" for n in names if n in o.scripts.get(r.worker, {}))
        body.append(f'<tr><th scope=row>{e(r.worker)} <small>({script})</small></th><td><code>{e(r.binding)}</code>'
                    f'</td>{"".join(cells)}</tr>')
    secrets = "".join(f"<tr><th scope=row><code>{e(s.secret)}</code>{' (external)' if s.external else ''}</th>"
                      + "".join(f"<td>{e(s.places[n] or '-')}</td>" for n in names) + "</tr>" for s in o.secrets)
    legend = "".join(f'<li><span class="swatch {_css_class(k)}" data-legend="{e(k)}">{e(k)}</span></li>' for k in KINDS)
    legend += '<li><span class="swatch absent" data-legend="absent">not bound in that stack</span></li>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>secrets-plane overview</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 0 0 24px; }}
th, td {{ border: 1px solid #bbb; padding: 4px 10px; text-align: left; vertical-align: top; }}
thead th {{ background: #f4f4f4; }}
.absent {{ background: {ABSENT}; color: #555; }}
{css}
ul.legend {{ list-style: none; padding: 0; display: flex; gap: 12px; }}
.swatch {{ display: inline-block; padding: 2px 8px; border-radius: 3px; }}
small {{ color: #666; }}
</style>
</head>
<body>
<h1>secrets-plane: every stack</h1>
<ul class="legend">{legend}</ul>
<h2>Stacks</h2>
<table id="stacks"><thead><tr><th>stack</th><th>account</th><th>backend</th><th>pin</th><th>credentials</th>
<th>store</th><th>secret names</th></tr></thead><tbody>{stack_rows}</tbody></table>
<h2>Bindings</h2>
<table id="bindings"><thead><tr><th>Worker</th><th>binding</th>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<h2>Secrets</h2>
<table id="secrets"><thead><tr><th>secret</th>{head}</tr></thead><tbody>{secrets}</tbody></table>
</body>
</html>
"""


RENDER = {"text": render_text, "markdown": render_markdown, "json": render_json, "html": render_html}
