"""Small fixes to the pages Jupyter Book 1.x generates, found by the browser tests.

1. sphinx-thebe (loaded by Jupyter Book even with Thebe off) adds its inline script twice under
   Sphinx 7.4, and the second `const THEBE_JS_URL` throws on every page; drop repeated scripts.
2. Equations and figures are numbered per chapter, (4.12) and Fig. 4.3, with the chapter's number
   taken from its slug (book/04-vanishing-gradients -> 4). Sphinx numbers them across the whole
   book unless the toctree is numbered, and a numbered toctree would also number the pages that
   are not chapters (the introduction, "Working on the exercises").
"""
import re

CHAPTER = re.compile(r"(?:^|/)(\d+)-[^/]+$")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "", getattr(script, "priority", None),
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def chapter_numbers(toc_fignumbers):
    """{docname: {figtype: {id: (chapter, n)}}}: each chapter's items renumbered from 1 in the
    order Sphinx found them; pages without a chapter number keep what they had."""
    out = {}
    for docname, figtypes in toc_fignumbers.items():
        match = CHAPTER.search(docname)
        if not match:
            out[docname] = figtypes
            continue
        chapter = int(match.group(1))
        out[docname] = {
            figtype: {ident: (chapter, i + 1) for i, (ident, _) in
                      enumerate(sorted(numbers.items(), key=lambda item: item[1]))}
            for figtype, numbers in figtypes.items()}
    return out


def _number_per_chapter(app, env):
    # Runs after Sphinx's own numbering (same event, later priority); every {eq}, {numref} and
    # equation label reads env.toc_fignumbers when the pages are written.
    before = env.toc_fignumbers
    env.toc_fignumbers = chapter_numbers(before)
    return [doc for doc in env.toc_fignumbers if env.toc_fignumbers[doc] != before.get(doc)]


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("env-get-updated", _number_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
