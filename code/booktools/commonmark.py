"""MyST Markdown turned into the plain CommonMark that Jupyter and Colab show.

The chapters are written in MyST: roles (``{term}`padding```), directives
(``:::{note}``), glue references to values computed by the build, citations
and cross-references. A notebook opened outside the book build shows all of
that as literal text. :class:`Converter` rewrites a chapter's markdown into
plain CommonMark (with ``$`` maths and pipe tables, which Jupyter and Colab
render), using what the build computed (:class:`Book`):

=====================================  ========================================
MyST                                   CommonMark
=====================================  ========================================
``{glue:text}`name:.3f```              the value, formatted as on the site
``{glue:md}`` / ``{glue:figure}``      the Markdown itself / the image inline
                                       with its numbered caption
``{term}`padding```                    a link to the glossary entry
``{doc}`` / ``{ref}`` / ``{numref}``   a link to the page (or section, figure)
                                       on the site, with its title or number
``{cite:t}`` / ``{cite:p}``            ``Elman (1990)`` / ``(Elman, 1990)``,
                                       linked to the references page
``{tab-set}`` of ``{tab-item}``        one section (a heading) per tab
admonitions (``{note}``, ...)          a block quote with the title in bold
``{exercise}``                         a heading "Exercise N (title)"
``(label)=``, ``% comment``            removed
=====================================  ========================================

Anything else stops the conversion with a :class:`ConversionError` naming
the chapter and the construct, and so does a construct left in the output
(for example a role inside a list item that holds a directive): the result
is checked with the same MyST parser that read it.

The build's data come from the Sphinx environment (:meth:`SiteIndex.from_env`)
and the glue values myst-nb wrote next to each executed notebook
(``_build/jupyter_execute/<page>.glue.json``); :meth:`Book.from_build` reads
both from a finished build.
"""

from __future__ import annotations

import ast
import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import yaml

__all__ = [
    "Book",
    "BookConfig",
    "ConversionError",
    "Converter",
    "SiteIndex",
    "format_glue_text",
    "myst_leftovers",
]

#: Directives shown as a block quote, with their default titles.
ADMONITIONS = {
    "admonition": "",
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "dropdown": "",
    "epigraph": "",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "margin": "",
    "note": "Note",
    "seealso": "See also",
    "sidebar": "",
    "tip": "Tip",
    "topic": "",
    "warning": "Warning",
}

#: Block tokens of the MyST parser that only MyST understands.
_MYST_BLOCKS = {
    "colon_fence": "a ':::' directive",
    "myst_target": "a '(label)=' target",
    "myst_line_comment": "a '%' comment",
    "myst_block_break": "a '+++' block break",
    "substitution_block": "a '{{ }}' substitution",
    "footnote_block_open": "a footnote",
    "dl_open": "a definition list",
}
_MYST_INLINE = {
    "myst_role": "role",
    "substitution_inline": "a '{{ }}' substitution",
    "footnote_ref": "a footnote reference",
}

_ROLE = re.compile(r"\{(?P<name>[A-Za-z0-9_:+-]{1,36})\}(?P<ticks>`+)")
_TICKS = re.compile(r"`+")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
#: Where the build leaves the site's index (in the build folder).
SITE_INDEX = "site-index.json"

_SPECIAL = re.compile(r"([\\`*_\[\]<>|$])")


class ConversionError(ValueError):
    """A MyST construct the converter cannot turn into CommonMark."""


# --------------------------------------------------------------------------
# What the build computed


@dataclass
class Citation:
    """How a citation reads, and where its entry is on the site."""

    authors: str  # "Elman", "Hochreiter and Schmidhuber", "Cho et al."
    year: str
    docname: str
    anchor: str


@dataclass
class SiteIndex:
    """The site's pages, labels, numbers, glossary terms and citations.

    ``base_url`` is where the site is published (ending in ``/``); a page
    ``chapters/03_x`` is at ``base_url + "chapters/03_x.html"``.
    """

    base_url: str
    titles: dict[str, str] = field(default_factory=dict)
    labels: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    numbers: dict[str, tuple[str, str]] = field(default_factory=dict)
    numfig_format: dict[str, str] = field(default_factory=dict)
    terms: dict[str, tuple[str, str]] = field(default_factory=dict)
    citations: dict[str, Citation] = field(default_factory=dict)
    equations: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env, base_url: str) -> SiteIndex:
        """The index of a Sphinx build environment (live or unpickled)."""
        std = env.domaindata["std"]
        labels = {
            name: (doc, anchor, str(title))
            for name, (doc, anchor, title) in std["labels"].items()
        }
        for name, (doc, anchor) in std["anonlabels"].items():
            labels.setdefault(name, (doc, anchor, ""))
        numbers = {
            label: (figtype, ".".join(map(str, number)))
            for by_type in env.toc_fignumbers.values()
            for figtype, by_label in by_type.items()
            for label, number in by_label.items()
        }
        terms = {  # {term} is case-insensitive, as Sphinx resolves it
            name.lower(): (doc, anchor)
            for (kind, name), (doc, anchor) in std["objects"].items()
            if kind == "term"
        }
        math = env.domaindata.get("math", {}).get("objects", {})
        return cls(
            base_url=base_url,
            titles={doc: node.astext() for doc, node in env.titles.items()},
            labels=labels,
            numbers=numbers,
            numfig_format=dict(env.config.numfig_format),
            terms=terms,
            citations=_citations(env),
            equations={k: (d, str(n)) for k, (d, n) in math.items()},
        )

    def to_json(self) -> str:
        """The index as JSON (the site's address is left out)."""
        data = {k: v for k, v in self.__dict__.items() if k != "base_url"}
        data["citations"] = {k: c.__dict__ for k, c in self.citations.items()}
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, base_url: str) -> SiteIndex:
        """The index :meth:`to_json` wrote, for the site at ``base_url``."""
        data = json.loads(text)
        data["citations"] = {
            k: Citation(**c) for k, c in data["citations"].items()
        }
        for key in ("labels", "numbers", "terms", "equations"):
            data[key] = {k: tuple(v) for k, v in data[key].items()}
        return cls(base_url=base_url, **data)

    def url(self, docname: str, anchor: str = "") -> str:
        """The address of a page (and an anchor on it) on the site."""
        page = "" if docname in ("", "index") else f"{docname}.html"
        return self.base_url + page + (f"#{anchor}" if anchor else "")

    def number_text(self, label: str) -> str:
        """``"Fig. 4"`` or ``"Exercise 8"``: how the site numbers ``label``."""
        figtype, number = self.numbers[label]
        return self.numfig_format.get(figtype, "%s").replace("%s", number)


def _citations(env) -> dict[str, Citation]:
    """Author-year text and site anchor of every entry the build cited."""
    found = {}
    for citation in env.domaindata.get("cite", {}).get("citations", []):
        entry = citation.entry
        found[citation.key] = Citation(
            authors=_author_text(entry.persons.get("author", [])),
            year=entry.fields.get("year", "n.d."),
            docname=citation.bibliography_key.docname,
            anchor=citation.citation_id,
        )
    return found


def _author_text(people) -> str:
    """``Elman``, ``Hochreiter and Schmidhuber``, ``Cho et al.``, as the
    site's author-year labels read."""
    from pybtex.richtext import Text

    names = [
        Text.from_latex(" ".join(p.last_names)).render_as("text")
        for p in people
    ]
    if len(names) > 2:
        return f"{names[0]} et al."
    return " and ".join(names) or "Anonymous"


@dataclass
class BookConfig:
    """What ``_config.yml`` says that the notebooks need: one place."""

    repository: str  # https://github.com/ORG/REPO
    branch: str  # the source branch (Binder, pip install)
    site_url: str  # where the built site is published, ending in /
    macros: dict[str, str]
    extensions: list[str]

    PAGES_BRANCH = "gh-pages"

    @classmethod
    def read(cls, root: str | Path) -> BookConfig:
        config = yaml.safe_load((Path(root) / "_config.yml").read_text())
        repository = config["repository"]["url"].rstrip("/")
        baseurl = config.get("html", {}).get("baseurl", "")
        tex = (
            config.get("sphinx", {})
            .get("config", {})
            .get("mathjax3_config", {})
            .get("tex", {})
        )
        return cls(
            repository=repository,
            branch=config["repository"].get("branch", "main"),
            site_url=(baseurl.rstrip("/") + "/")
            if baseurl
            else pages_url(repository),
            macros=_plain_macros(tex.get("macros", {})),
            extensions=list(
                config.get("parse", {}).get("myst_enable_extensions", [])
            ),
        )

    @property
    def org_repo(self) -> str:
        """``ORG/REPO`` of the GitHub repository."""
        return github_org_repo(self.repository)


def github_org_repo(url: str) -> str:
    """``ORG/REPO`` of a ``https://github.com/ORG/REPO`` address."""
    match = re.fullmatch(
        r"https://github\.com/([\w.-]+)/([\w.-]+?)(\.git)?/?", url
    )
    if not match:
        raise ValueError(
            f"_config.yml: repository.url must be a GitHub address "
            f"(https://github.com/ORG/REPO), not {url!r}: Colab and GitHub "
            "Pages need one"
        )
    return f"{match[1]}/{match[2]}"


def pages_url(repository: str) -> str:
    """Where GitHub Pages publishes the site of ``repository``."""
    org, repo = github_org_repo(repository).split("/")
    if repo.lower() == f"{org.lower()}.github.io":
        return f"https://{repo.lower()}/"
    return f"https://{org.lower()}.github.io/{repo}/"


def _plain_macros(macros: Mapping) -> dict[str, str]:
    """MathJax macros without arguments (``R: "\\mathbb{R}"``)."""
    plain = {}
    for name, value in macros.items():
        if not isinstance(value, str):
            raise ConversionError(
                f"_config.yml: the MathJax macro \\{name} takes arguments; "
                "the notebooks can expand only macros without arguments"
            )
        plain[name] = value
    return plain


@dataclass
class Book:
    """The configuration, the site's index and the glue values of a build."""

    config: BookConfig
    site: SiteIndex
    glue_dir: Path | None = None  # _build/jupyter_execute
    glue: dict[str, dict[str, dict]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, root: str | Path, env, build: str | Path) -> Book:
        """The book as the Sphinx environment ``env`` of ``build`` sees it."""
        config = BookConfig.read(root)
        return cls(
            config=config,
            site=SiteIndex.from_env(env, config.site_url),
            glue_dir=Path(build) / "jupyter_execute",
        )

    @classmethod
    def from_build(cls, root: str | Path, build: str | Path) -> Book:
        """The book as the last ``jupyter-book build`` into ``build`` left
        it: the site's index (written by :mod:`booktools.notebooks` at the
        end of the build) and the glue values."""
        index = Path(build) / SITE_INDEX
        if not index.exists():
            raise ConversionError(
                f"{index} is missing: build the book first (`make book`); "
                "the notebooks quote the values and numbers it computes"
            )
        config = BookConfig.read(root)
        site = SiteIndex.from_json(index.read_text(), config.site_url)
        return cls(config, site, Path(build) / "jupyter_execute")

    def glue_of(self, docname: str) -> dict[str, dict]:
        """The glued values of a page: ``{name: mime bundle}``."""
        if docname not in self.glue:
            self.glue[docname] = read_glue(self.glue_dir, docname)
        return self.glue[docname]


def read_glue(folder: Path | None, docname: str) -> dict[str, dict]:
    """The values myst-nb saved for a page (``<docname>.glue.json`` in the
    build's ``jupyter_execute``); none when the page glues nothing."""
    path = folder / f"{docname}.glue.json" if folder else None
    if path is None or not path.exists():
        return {}
    saved = json.loads(path.read_text())
    return {name: output["data"] for name, output in saved.items()}


# --------------------------------------------------------------------------
# Glue values


def format_glue_text(bundle: Mapping, spec: str, name: str = "") -> str:
    """The text ``{glue:text}`name:spec``` shows, as myst-nb formats it."""
    if "text/plain" not in bundle:
        raise ConversionError(f"the glue value {name!r} has no text form")
    text = bundle["text/plain"]
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if not spec:
        return str(value)
    kind = spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, spec)


def _image_markdown(bundle: Mapping, alt: str) -> str | None:
    """An inline (data URI) Markdown image of a glued figure, if it is one."""
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in bundle:
            data = bundle[mime]
            if mime == "image/svg+xml":
                svg = data if isinstance(data, str) else "".join(data)
                data = base64.b64encode(svg.encode()).decode()
            data = data if isinstance(data, str) else "".join(data)
            data = "".join(data.split())
            return f"![{escape(alt)}](data:{mime};base64,{data})"
    return None


def escape(text: str) -> str:
    """``text`` with the characters Markdown would interpret escaped."""
    return _SPECIAL.sub(r"\\\1", text)


# --------------------------------------------------------------------------
# The parser and the check for leftovers


def myst_parser(extensions: list[str]):
    """The markdown-it parser of myst-parser, with the book's extensions."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    # ':::' fences are read as directives even where the book does not
    # enable them, so that none can slip through as text
    enabled = set(extensions) | {"colon_fence"}
    config = MdParserConfig(enable_extensions=enabled)
    return create_md_parser(config, RendererHTML)


def myst_leftovers(text: str, parser) -> list[str]:
    """The MyST-only constructs in ``text``, found by the MyST parser."""
    found = []

    def walk(tokens):
        for token in tokens:
            kind = token.type
            if kind in ("fence", "colon_fence") and token.info.startswith("{"):
                found.append(f"directive {token.info.split()[0]}")
            elif kind in _MYST_BLOCKS and kind != "colon_fence":
                found.append(_MYST_BLOCKS[kind])
            elif kind == "myst_role":
                found.append(f"role {{{token.meta['name']}}}")
            elif kind in _MYST_INLINE:
                found.append(_MYST_INLINE[kind])
            walk(token.children or [])

    walk(parser.parse(text))
    return found


# --------------------------------------------------------------------------
# The converter


class Converter:
    """Turns the markdown of one chapter into CommonMark, cell by cell.

    It is made once per chapter: headings are remembered from cell to cell,
    so that a tab becomes a section one level below the section it is in.
    """

    def __init__(self, book: Book, docname: str, chapter: str = ""):
        self.book = book
        self.docname = docname
        self.chapter = chapter or f"{docname}.md"
        self.parser = myst_parser(book.config.extensions)
        self.section_level = 1
        self._roles: dict[str, Callable[[str], str]] = {
            "glue": self._glue_text,
            "glue:text": self._glue_text,
            "glue:md": self._glue_md_inline,
            "term": self._term,
            "doc": self._doc,
            "ref": self._ref,
            "numref": self._numref,
            "eq": self._eq,
            "math": lambda content: f"${content}$",
            "cite": self._cite_p,
            "cite:p": self._cite_p,
            "cite:ps": self._cite_p,
            "cite:t": self._cite_t,
            "cite:ts": self._cite_t,
            "abbr": lambda content: escape(content),
            "sub": lambda content: f"<sub>{escape(content)}</sub>",
            "sup": lambda content: f"<sup>{escape(content)}</sup>",
            "kbd": lambda content: f"<kbd>{escape(content)}</kbd>",
        }

    def fail(self, message: str) -> ConversionError:
        return ConversionError(f"{self.chapter}: {message}")

    # ---- the whole text

    def markdown(self, text: str) -> str:
        """``text`` (MyST) as CommonMark; raises on what it cannot convert."""
        converted = "\n".join(self._blocks(text)).strip("\n")
        leftovers = myst_leftovers(converted, self.parser)
        if leftovers:
            raise self.fail(
                f"{', '.join(sorted(set(leftovers)))} could not be converted "
                "to CommonMark (inside a list or a quote, a MyST construct "
                "is not converted: put it at the top level); the text: "
                f"{converted[:200]!r}"
            )
        return converted

    def _blocks(self, text: str) -> list[str]:
        lines = text.split("\n")
        out: list[str] = []
        position = 0
        for token in self.parser.parse(text):
            if token.level or token.map is None or token.nesting < 0:
                continue
            start, end = token.map
            if start < position:
                continue
            out += self._inline_lines(lines[position:start])
            out += self._block(token, lines[start:end])
            position = end
        out += self._inline_lines(lines[position:])
        return out

    def _block(self, token, lines: list[str]) -> list[str]:
        kind = token.type
        if kind in ("fence", "colon_fence") and token.info.startswith("{"):
            return self._directive(token)
        if kind in ("fence", "code_block", "html_block"):
            return lines
        if kind in ("math_block", "math_block_label", "amsmath"):
            return [self._expand_macros(line) for line in lines]
        if kind in ("myst_target", "myst_line_comment", "front_matter"):
            return []
        if kind == "heading_open":
            self.section_level = int(token.tag[1:])
        if kind in _MYST_BLOCKS:
            raise self.fail(f"{_MYST_BLOCKS[kind]} is not supported")
        return self._inline_lines(lines)

    # ---- inline text

    def _inline_lines(self, lines: list[str]) -> list[str]:
        return self.inline("\n".join(lines)).split("\n") if lines else []

    def inline(self, text: str) -> str:
        """``text`` with every role replaced; code spans are left alone."""
        out: list[str] = []
        plain: list[str] = []
        i = 0

        def flush():
            out.append(self._expand_macros("".join(plain)))
            plain.clear()

        while i < len(text):
            role = _ROLE.match(text, i)
            if text[i] == "\\" and i + 1 < len(text):
                plain.append(text[i : i + 2])
                i += 2
            elif role:
                ticks = len(role["ticks"])
                end = _closing_ticks(text, role.end(), ticks)
                if end is None:
                    raise self.fail(f"role {{{role['name']}}} is not closed")
                flush()
                out.append(self.role(role["name"], text[role.end() : end]))
                i = end + ticks
            elif text[i] == "`":
                run = _TICKS.match(text, i).end() - i
                end = _closing_ticks(text, i + run, run)
                stop = i + run if end is None else end + run
                flush()
                out.append(text[i:stop])
                i = stop
            else:
                plain.append(text[i])
                i += 1
        flush()
        return "".join(out)

    def role(self, name: str, content: str) -> str:
        """The CommonMark for the role ``{name}`content```."""
        handler = self._roles.get(name)
        if handler is None:
            raise self.fail(
                f"the role {{{name}}} (in {{{name}}}`{content}`) is not "
                "known to the converter (booktools/commonmark.py)"
            )
        return handler(content)

    def _expand_macros(self, text: str) -> str:
        for name, value in self.book.config.macros.items():
            text = re.sub(
                r"\\" + re.escape(name) + r"(?![A-Za-z])",
                lambda _: value,
                text,
            )
        return text

    # ---- roles

    def _glue_value(self, key: str) -> dict:
        docname, _, name = key.rpartition("::")
        page = self._docname_of(docname) if docname else self.docname
        values = self.book.glue_of(page)
        if name not in values:
            raise self.fail(
                f"no glue value {name!r} on {page} (glue() in a cell "
                "that the build ran must define it)"
            )
        return values[name]

    def _glue_text(self, content: str) -> str:
        key, spec = _key_and_format(content)
        text = format_glue_text(self._glue_value(key), spec, key)
        return escape(text)

    def _glue_md_inline(self, content: str) -> str:
        key = _key_and_format(content)[0]
        bundle = self._glue_value(key)
        if "text/markdown" not in bundle:
            raise self.fail(f"the glue value {key!r} has no Markdown form")
        return self.inline(_joined(bundle["text/markdown"]).strip())

    def _term(self, content: str) -> str:
        text, target = _text_and_target(content)
        found = self.book.site.terms.get(target.lower())
        if found is None:
            raise self.fail(f"{{term}}`{content}`: no glossary entry")
        return f"[{escape(text)}]({self.book.site.url(*found)})"

    def _docname_of(self, target: str) -> str:
        target = target.removesuffix(".md").removesuffix(".ipynb")
        if target.startswith("/"):
            return target.lstrip("/")
        folder = self.docname.rpartition("/")[0]
        parts = (f"{folder}/{target}" if folder else target).split("/")
        resolved: list[str] = []
        for part in parts:
            if part == "..":
                resolved.pop()
            elif part not in ("", "."):
                resolved.append(part)
        return "/".join(resolved)

    def _doc(self, content: str) -> str:
        text, target = _text_and_target(content, keep_text=True)
        docname = self._docname_of(target)
        if docname not in self.book.site.titles:
            raise self.fail(f"{{doc}}`{content}`: no page {docname}")
        label = text or self.book.site.titles[docname]
        return f"[{escape(label)}]({self.book.site.url(docname)})"

    def _label(self, content: str, role: str) -> tuple[str, tuple]:
        text, target = _text_and_target(content, keep_text=True)
        found = self.book.site.labels.get(target)
        if found is None:
            raise self.fail(f"{{{role}}}`{content}`: no label {target!r}")
        return text, found

    def _ref(self, content: str) -> str:
        text, (docname, anchor, title) = self._label(content, "ref")
        label = text or title
        if not label:
            raise self.fail(f"{{ref}}`{content}` needs a link text")
        url = self.book.site.url(docname, anchor)
        return f"[{escape(label)}]({url})"

    def _numref(self, content: str) -> str:
        text, (docname, anchor, title) = self._label(content, "numref")
        target = _text_and_target(content)[1]
        if target not in self.book.site.numbers:
            raise self.fail(f"{{numref}}`{content}`: {target} has no number")
        number = self.book.site.numbers[target][1]
        label = (
            text.replace("%s", number)
            .replace("{number}", number)
            .replace("{name}", title)
            if text
            else self.book.site.number_text(target)
        )
        url = self.book.site.url(docname, anchor)
        return f"[{escape(label)}]({url})"

    def _eq(self, content: str) -> str:
        found = self.book.site.equations.get(content)
        if found is None:
            raise self.fail(f"{{eq}}`{content}`: no numbered equation")
        docname, number = found
        return f"[({number})]({self.book.site.url(docname, content)})"

    def _citations(self, content: str) -> list[tuple[str, Citation]]:
        keys = [key.strip() for key in content.split(",") if key.strip()]
        missing = [k for k in keys if k not in self.book.site.citations]
        if not keys or missing:
            raise self.fail(
                f"{{cite}}`{content}`: {missing or 'no key'} not in "
                "references.bib (or never cited on the site)"
            )
        return [(key, self.book.site.citations[key]) for key in keys]

    def _cite_url(self, citation: Citation) -> str:
        return self.book.site.url(citation.docname, citation.anchor)

    def _cite_p(self, content: str) -> str:
        linked = [
            f"[{escape(c.authors)}, {c.year}]({self._cite_url(c)})"
            for _, c in self._citations(content)
        ]
        return "(" + "; ".join(linked) + ")"

    def _cite_t(self, content: str) -> str:
        return ", ".join(
            f"[{escape(c.authors)} ({c.year})]({self._cite_url(c)})"
            for _, c in self._citations(content)
        )

    # ---- directives

    def _directive(self, token) -> list[str]:
        name, _, argument = token.info.strip()[1:].partition("}")
        options, body = _split_options(token.content)
        handler = {
            "tab-set": self._tab_set,
            "tab-item": self._tab_item,
            "exercise": self._exercise,
            "exercise-start": self._exercise,
            "exercise-end": lambda *_: [],
            "glue:md": self._glue_md,
            "glue:figure": self._glue_figure,
            "glue": self._glue_any,
            "glue:any": self._glue_any,
            "math": self._math,
            "code-block": self._code_block,
            "code": self._code_block,
            "sourcecode": self._code_block,
            "div": lambda a, o, body: self._blocks(body),
        }.get(name)
        if name in ADMONITIONS:
            return self._admonition(name, argument.strip(), body)
        if handler is None:
            raise self.fail(
                f"the directive {{{name}}} is not known to the converter "
                "(booktools/commonmark.py)"
            )
        return handler(argument.strip(), options, body)

    def _tab_set(self, argument, options, body) -> list[str]:
        return _without_trailing_blanks(self._blocks(body))

    def _tab_item(self, argument, options, body) -> list[str]:
        level = min(self.section_level + 1, 6)
        saved = self.section_level
        lines = ["#" * level + " " + self.inline(argument), ""]
        lines += _without_trailing_blanks(self._blocks(body))
        self.section_level = saved
        return lines + [""]

    def _admonition(self, name: str, argument: str, body: str) -> list[str]:
        title = self.inline(argument) if argument else ADMONITIONS[name]
        inner = _without_trailing_blanks(self._blocks(body))
        quoted = [f"**{title}**", ""] if title else []
        quoted += inner
        return [f"> {line}" if line.strip() else ">" for line in quoted]

    def _exercise(self, argument, options, body) -> list[str]:
        label = options.get("label", "")
        number = (
            self.book.site.number_text(label)
            if label in self.book.site.numbers
            else "Exercise"
        )
        title = f"{number} ({self.inline(argument)})" if argument else number
        level = min(self.section_level + 1, 6)
        return ["#" * level + " " + title, ""] + self._blocks(body)

    def _glue_md(self, argument, options, body) -> list[str]:
        bundle = self._glue_value(_glue_key(argument, options))
        if "text/markdown" not in bundle:
            raise self.fail(f"the glue value {argument!r} is not Markdown")
        return self._blocks(_joined(bundle["text/markdown"]))

    def _glue_figure(self, argument, options, body) -> list[str]:
        bundle = self._glue_value(_glue_key(argument, options))
        caption = self.inline(" ".join(body.split())) if body else ""
        alt = options.get("alt") or _plain_text(caption) or argument
        image = _image_markdown(bundle, alt)
        if image is None:
            return self._glue_any(argument, options, body)
        name = options.get("name", "")
        lines = [image, ""]
        if caption or name in self.book.site.numbers:
            number = (
                f"**{self.book.site.number_text(name)}.** "
                if name in self.book.site.numbers
                else ""
            )
            lines.append(f"{number}{caption}".strip())
        return lines

    def _glue_any(self, argument, options, body) -> list[str]:
        bundle = self._glue_value(_glue_key(argument, options))
        image = _image_markdown(bundle, argument)
        if image is not None:
            return [image]
        if "text/markdown" in bundle:
            return self._blocks(_joined(bundle["text/markdown"]))
        return [escape(format_glue_text(bundle, "", argument))]

    def _math(self, argument, options, body) -> list[str]:
        tex = self._expand_macros(body.strip() or argument)
        label = options.get("label")
        if label and label in self.book.site.equations:
            tex += f" \\tag{{{self.book.site.equations[label][1]}}}"
        return ["$$", tex, "$$"]

    def _code_block(self, argument, options, body) -> list[str]:
        fence = "`" * max(3, _longest_tick_run(body) + 1)
        return [fence + argument, *body.rstrip("\n").split("\n"), fence]


# --------------------------------------------------------------------------
# Small helpers


def _closing_ticks(text: str, start: int, count: int) -> int | None:
    """Where the next run of exactly ``count`` backticks starts."""
    for match in _TICKS.finditer(text, start):
        if len(match.group()) == count:
            return match.start()
    return None


def _without_trailing_blanks(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _longest_tick_run(text: str) -> int:
    return max((len(m.group()) for m in _TICKS.finditer(text)), default=0)


def _text_and_target(content: str, keep_text: bool = False):
    """``("text", "target")`` of ``text <target>``; for a bare ``target``
    the text is the target itself (or empty with ``keep_text``)."""
    match = _EXPLICIT.match(content.strip())
    if match:
        return match["text"].strip(), match["target"].strip()
    return ("" if keep_text else content.strip()), content.strip()


def _split_options(content: str) -> tuple[dict[str, str], str]:
    """A directive's options (``:key: value`` lines or a YAML block) and
    the body after them."""
    lines = content.split("\n")
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next(
            (i for i in range(1, len(lines)) if lines[i].strip() == "---"),
            None,
        )
        if end is not None:
            loaded = yaml.safe_load("\n".join(lines[1:end])) or {}
            options = {str(k): str(v) for k, v in loaded.items()}
            return options, "\n".join(lines[end + 1 :]).strip("\n")
    i = 0
    while i < len(lines) and (match := _OPTION.match(lines[i].strip())):
        options[match["key"]] = match["value"]
        i += 1
    return options, "\n".join(lines[i:]).strip("\n")


def _key_and_format(content: str) -> tuple[str, str]:
    """``("name", ".3f")`` of ``name:.3f`` (``doc::name`` has no format)."""
    head, colon, tail = content.rpartition(":")
    if colon and not head.endswith(":"):
        return head, tail
    return content, ""


def _glue_key(argument: str, options: Mapping[str, str]) -> str:
    doc = options.get("doc")
    return f"{doc}::{argument}" if doc else argument


def _joined(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def _plain_text(markdown: str) -> str:
    """A caption's words without Markdown links and emphasis (alt text)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[*`$\\]", "", text)
