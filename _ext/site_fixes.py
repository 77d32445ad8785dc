"""Small fixes to the pages Jupyter Book 1.x generates, found by the browser tests.

sphinx-thebe (loaded by Jupyter Book even with Thebe off) adds its inline script twice under
Sphinx 7.4, and the second `const THEBE_JS_URL` throws on every page; drop repeated scripts.
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "", getattr(script, "priority", None),
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
