"""The Jinja2 environment that renders the HTML pages of `assistant.web` from ``templates/``.

Autoescaping is on for every ``.html`` template, so each value a template prints is
HTML-escaped (``&``, ``<``, ``>``, ``'`` and ``"``) unless it is `markupsafe.Markup`: a
template marks a value ``|safe`` only where the Python that built it escaped every part
itself, and says so in a comment (today only a policy document's body, from
`viewer.document_html` or `viewer.indexed_clauses_html`). Undefined names are errors (`jinja2.StrictUndefined`), not empty strings.

Every full page extends ``templates/base.html``, which writes the doctype, the ``<head>`` (charset,
viewport, ``answer.css``) and the ``<body>`` once; a page fills its blocks (title, stylesheets,
scripts, body class, main).
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

#: The one template environment of the web package (templates are packaged with it, see pyproject.toml).
ENVIRONMENT = Environment(
    loader=PackageLoader("assistant.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,  # a page ends with a newline, as the f-strings it replaced did
)


def render_page(template: str, **context: object) -> str:
    """Render one template of ``templates/``.

    Args:
        template: the template's file name, e.g. ``"widget.html"``.
        **context: the names the template uses; strings are escaped when printed.

    Returns:
        The rendered HTML.

    Raises:
        jinja2.TemplateNotFound: no such template.
        jinja2.UndefinedError: the template uses a name not in ``context``.
    """
    return ENVIRONMENT.get_template(template).render(**context)
