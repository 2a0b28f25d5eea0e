"""Every figure has alt text and links to its full-size file (issue 19).

A figure made by a chapter's code reaches the page as an ``<img>`` whose
``alt`` is, unless the chapter said otherwise, its hashed file name
(``alt="../_images/ca784a05....png"``): a screen reader reads out the hash.
The book's rule is that every figure has a caption that says what it shows
(it doubles as the alt text), so this module sets each image's ``alt``:

1. an ``alt`` the chapter gave (cell metadata ``mystnb: image: alt:``)
   is kept;
2. else the text of the figure's caption (``mystnb: figure: caption:``);
3. else, for a figure glued without a caption (the landing page), the
   paragraph right after it when that paragraph is all emphasis: the
   book's way of writing a caption under a glued figure;
4. else the build warns (a strict build fails), naming the page.

It also makes each image a link to its own file, so a reader on a phone
(or anyone who wants the figure larger) can open it at full resolution:
the chapters save figures at 200 dpi (chapters/matplotlibrc), about twice
the width at which a desktop page shows them. Sphinx does this by itself
only for images given a width or a scale.

And it shows each PNG at its size on paper (CSS's 96 px to the inch: its
width in pixels x 96 / its dpi), never wider than the text column: a
browser shows an image one image pixel per CSS pixel, so a 4.5-inch
diagram at 200 dpi (900 px) was stretched to the column's 672 px, its
9-pt text 19 px tall and its pixels too few for a high-density screen.
At its size on paper 9-pt text is 12 px and every figure has about two
image pixels per CSS pixel (tests/test_site.py measures both).
"""

from __future__ import annotations

import os
import posixpath

from docutils import nodes
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

logger = logging.getLogger(__name__)


def _plain(text: str) -> str:
    return " ".join(text.split())


def _caption_of(image: nodes.image) -> str | None:
    figure = image.parent
    while figure is not None and not isinstance(figure, nodes.figure):
        figure = figure.parent
    if figure is None:
        return None
    for caption in figure.findall(nodes.caption):
        return _plain(caption.astext())
    return None


def _emphasised_paragraph_after(image: nodes.image) -> str | None:
    """The all-emphasis paragraph that follows the block holding the image
    (a caption written under a glued figure), if there is one."""
    block = image
    while block.parent is not None and not isinstance(
        block.parent, (nodes.section, nodes.document)
    ):
        block = block.parent
    following = block.next_node(descend=False, siblings=True)
    if (
        isinstance(following, nodes.paragraph)
        and len(following.children) == 1
        and isinstance(following.children[0], nodes.emphasis)
    ):
        return _plain(following.astext())
    return None


def alt_text(image: nodes.image) -> str | None:
    """The alt text an image gets (rules 1-3 of the module docstring)."""
    given = image.get("alt")
    if given and given != image.get("uri"):
        return given
    return _caption_of(image) or _emphasised_paragraph_after(image)


def _full_size_uri(app, image: nodes.image, docname: str) -> str | None:
    """The image's URI in the built site, relative to the page."""
    source = image.get("candidates", {}).get("*", image.get("uri"))
    if source not in app.env.images:
        return None
    page = app.builder.get_target_uri(docname)
    images = relative_uri(page, app.builder.imagedir)
    return posixpath.join(images, app.env.images[source][1])


CSS_PX_PER_INCH = 96


def _paper_width(app, image: nodes.image) -> str | None:
    """`NNpx`, the width at which a PNG of known dpi is its size on paper;
    None for an image given a width or scale, or of unknown dpi."""
    if image.get("width") or image.get("scale"):
        return None
    source = image.get("candidates", {}).get("*", image.get("uri"))
    if not source or not source.lower().endswith(".png"):
        return None
    from PIL import Image

    try:
        with Image.open(os.path.join(app.srcdir, source)) as png:
            dpi = png.info.get("dpi", (None,))[0]
            width = png.width
    except OSError:
        return None
    if not dpi:
        return None
    return f"{round(width * CSS_PX_PER_INCH / float(dpi))}px"


def _describe_and_link(app, doctree, docname):
    if app.builder.format != "html":
        return
    for image in list(doctree.findall(nodes.image)):
        alt = alt_text(image)
        if alt:
            image["alt"] = alt
        else:
            logger.warning(
                "a figure without a caption or alt text (give the cell "
                "`mystnb: figure: caption:` metadata): %s",
                image.get("uri"),
                location=image,
                type="figures",
                subtype="alt",
            )
        width = _paper_width(app, image)
        if width:
            image["width"] = width
        if isinstance(image.parent, nodes.reference):
            continue
        target = _full_size_uri(app, image, docname)
        if target is None:
            continue
        link = nodes.reference(
            "", "", refuri=target, internal=True, classes=["figure-link"]
        )
        image.replace_self(link)
        link.append(image)


def setup(app):
    app.connect("doctree-resolved", _describe_and_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
