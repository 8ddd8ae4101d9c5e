"""Text that reaches a figure: process/class labels and the mass axis title.

Labels from the process registry (``configs/processes.yaml``) and the fileset
metadata are plain Unicode, e.g. "tt̄ (semi-μ)" with a combining macron
(U+0304).  The CMS font has no glyph for it (matplotlib draws "ft"), so
:func:`mpl_label` turns each barred letter into mathtext ``\\bar{}``.

:func:`mass_axis_label` names the task's mass the physics way: the task's own
``axis_label`` (``processors/<task>.py``, through the task registry), falling
back to the definition the selection stored in its manifest
(``mass_definition``) for a task this installation does not know.
"""

from __future__ import annotations

import re

MACRON = "\u0304"

# a run of letters in which at least one carries a combining macron
_BARRED_WORD = re.compile(rf"(?:[^\W\d_]{MACRON}?)*[^\W\d_]{MACRON}(?:[^\W\d_]{MACRON}?)*")
_BARRED_LETTER = re.compile(rf"([^\W\d_]){MACRON}")

def _bar_math(text: str) -> str:
    return _BARRED_LETTER.sub(lambda m: rf"\bar{{{m.group(1)}}}", text)


def mpl_label(text: str) -> str:
    """``text`` as matplotlib draws it right: a letter + U+0304 becomes ``\\bar{letter}``.

    "tt̄ (semi-μ)" → ``r"$t\\bar{t}$ (semi-μ)"``.  Inside an existing ``$…$``
    only the bar is rewritten; outside, the barred word becomes one math run.
    Text without a macron is returned unchanged.
    """
    text = str(text)
    if MACRON not in text:
        return text
    parts = text.split("$")
    for i, part in enumerate(parts):
        if i % 2:  # already mathtext
            parts[i] = _bar_math(part)
        else:
            parts[i] = _BARRED_WORD.sub(lambda m: f"${_bar_math(m.group(0))}$", part)
    return "$".join(parts)


def mass_axis_label(task: str | None, definition: str | None = None) -> str:
    """The x-axis title of the task mass: the task's ``axis_label``, else the stored
    definition (first clause, capitalised), else "Mass [GeV]"."""
    from ..processors.registry import get_task, task_names

    if task is not None and task in task_names():
        return get_task(task).axis_label
    text = (definition or "").split(";")[0].strip()
    if not text:
        return "Mass [GeV]"
    if "[GeV]" not in text:
        text += " [GeV]"
    return mpl_label(text[0].upper() + text[1:])
