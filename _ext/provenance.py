"""What the site was built from, in every page's footer (issue 19).

A reader (or an instructor deciding whether to reuse an exercise) sees the
book's version, the date the site was built, the TensorFlow, Keras and
PyTorch versions whose behaviour its asserts checked, and the licenses.
Nothing is typed by hand: the version is ``[project] version`` in
pyproject.toml, the framework versions are the pins in requirements.txt,
read when the site is built, and the date is today's (UTC) or, for a
reproducible build, the one in ``SOURCE_DATE_EPOCH``. The template is
``_templates/provenance.html``.
"""

from __future__ import annotations

import datetime
import os
import re
import tomllib
from pathlib import Path

from sphinx.errors import ExtensionError

# The frameworks the footer names, as pip spells them in requirements.txt.
FRAMEWORKS = {
    "TensorFlow": "tensorflow",
    "tf-keras": "tf_keras",
    "Keras": "keras",
    "PyTorch": "torch",
}
LICENSES = {
    "text": ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "code": ("MIT", "https://opensource.org/license/mit"),
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions(requirements: Path) -> dict[str, str]:
    """Every ``name==version`` line of a requirements file, by the
    canonical (PEP 503) name."""
    pins = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==\s*([^\s;]+)", line)
        if match:
            pins[_canonical(match[1])] = match[2]
    return pins


def framework_pins(requirements: Path) -> list[tuple[str, str]]:
    """(display name, pinned version) of each framework in FRAMEWORKS."""
    pins = pinned_versions(requirements)
    missing = [
        pip for pip in FRAMEWORKS.values() if _canonical(pip) not in pins
    ]
    if missing:
        raise ExtensionError(
            f"{requirements.name} pins no version of {missing}: the site's "
            "footer names the versions the book was checked against"
        )
    return [
        (shown, pins[_canonical(pip)]) for shown, pip in FRAMEWORKS.items()
    ]


def book_version(pyproject: Path) -> str:
    return tomllib.loads(pyproject.read_text())["project"]["version"]


def build_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        if epoch
        else datetime.datetime.now(datetime.UTC)
    )
    return moment.date().isoformat()


def _add_to_context(app, config):
    root = Path(app.confdir)
    config.html_context = {
        **config.html_context,
        "book_version": book_version(root / "pyproject.toml"),
        "book_built": build_date(),
        "book_pins": framework_pins(root / "requirements.txt"),
        "book_licenses": LICENSES,
    }


def setup(app):
    app.connect("config-inited", _add_to_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
