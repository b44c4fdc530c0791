# SPDX-License-Identifier: Apache-2.0
"""Release metadata agrees with itself: the version is written once (AC_INIT
in configure.ac) and debian/changelog and NEWS follow it; the licence is
stated in LICENSE and debian/copyright. make dist checks the same (dist-hook,
check-news); this fails earlier, in ./dev test.

Run: /usr/bin/python3 -m pytest tests/docs (stdlib + pytest only)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def configure_version():
    m = re.search(r"^AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]",
                  (ROOT / "configure.ac").read_text(), re.M)
    assert m, "no AC_INIT([name], [version]) in configure.ac"
    return m.group(1)


def test_debian_changelog_follows_configure():
    first = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    m = re.match(r"^(\S+) \(([^)]+)\) ", first)
    assert m, first
    upstream = m.group(2).rsplit("-", 1)[0]
    assert upstream == configure_version(), (
        "debian/changelog is at %s, configure.ac at %s: add a changelog entry "
        "(dch -v %s-1)" % (m.group(2), configure_version(), configure_version()))


def test_news_names_the_version():
    head = "\n".join((ROOT / "NEWS").read_text().splitlines()[:15])
    assert re.search(r"\b%s\b" % re.escape(configure_version()), head), (
        "NEWS does not mention %s in its first lines" % configure_version())


def test_licence_stated():
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0" in (ROOT / "LICENSE").read_text()
    copyright = (ROOT / "debian" / "copyright").read_text()
    assert re.search(r"^Files: \*\n(?:.+\n)*?License: Apache-2\.0$", copyright, re.M)
