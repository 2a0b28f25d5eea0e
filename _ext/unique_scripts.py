"""Write each <script> once per page.

Sphinx 7.4 registers an inline script that an extension adds after the HTML
builder starts (sphinx-thebe's `const THEBE_JS_URL = ...`,
sphinx-togglebutton's selector) twice: once with filename None and again, in
`prepare_writing`, with filename ''. The second `const` declaration is a
JavaScript error in every page's console. This drops the repeated copies.
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (
            script.filename or "",
            tuple(sorted((k, str(v)) for k, v in script.attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
