# SPDX-License-Identifier: Apache-2.0
"""Every error-log id is defined once, used once and documented.

- B2CLOGNO is #defined in exactly one header (common/b2c_logno.h);
- every B2CLOGNO(nnnnn) in the C sources of the modules and the core (every
  top-level folder with C sources except tests/) has five digits and one
  call site: an operator who searches for an id finds one place;
- every id used in a module folder mod_b2c_X/ has a row "| B2Cnnnnn |" in
  docs/mod_b2c_X.md; an id used elsewhere (the core, shared glue) has one
  in some docs/*.md;
- no doc table row names an id the code no longer logs.

Run: /usr/bin/python3 -m pytest tests/docs (stdlib + pytest only).
"""
import re
from collections import defaultdict
from pathlib import Path

from test_directives_documented import strip_c_comments

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_USE = re.compile(r"\bB2CLOGNO\s*\(\s*([^)\s]*)\s*\)")
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+B2CLOGNO\b", re.M)
_DOC_ROW = re.compile(r"^\|\s*B2C(\d{5})\s*\|", re.M)


def c_sources():
    skip = {"tests", "build", "build-aux", "autom4te.cache", "debian"}
    for d in sorted(ROOT.iterdir()):
        if d.is_dir() and not d.name.startswith(".") and d.name not in skip:
            for f in sorted(d.rglob("*.[ch]")):
                yield f


def uses():
    """id -> [(file, line)], and the files that #define B2CLOGNO."""
    found, defines = defaultdict(list), []
    for f in c_sources():
        src = f.read_text(encoding="utf-8", errors="replace")
        if _DEFINE.search(src):
            defines.append(f.relative_to(ROOT).as_posix())
        code = strip_c_comments(src)
        for m in _USE.finditer(code):
            if _DEFINE.search(code[code.rfind("\n", 0, m.start()) + 1:m.end()]):
                continue  # the definition itself
            line = code.count("\n", 0, m.start()) + 1
            found[m.group(1)].append((f.relative_to(ROOT), line))
    return found, defines


def documented():
    """doc file name -> set of ids in its log tables."""
    return {md.name: set(_DOC_ROW.findall(md.read_text(encoding="utf-8")))
            for md in sorted(DOCS.glob("*.md"))}


def test_one_definition():
    _, defines = uses()
    assert defines == ["common/b2c_logno.h"], defines


def test_ids_found():
    found, _ = uses()
    assert len(found) >= 10, "the B2CLOGNO regex no longer fits the code: %r" % found


def test_each_id_has_five_digits_and_one_call_site():
    found, _ = uses()
    bad = [i for i in found if not re.fullmatch(r"\d{5}", i)]
    assert not bad, "log ids must be five digits: %r" % bad
    dup = {i: ["%s:%d" % w for w in where] for i, where in found.items() if len(where) > 1}
    assert not dup, "log ids used at more than one call site: %r" % dup


def test_each_id_documented():
    found, _ = uses()
    docs = documented()
    anywhere = set().union(*docs.values()) if docs else set()
    missing = []
    for i, where in sorted(found.items()):
        for f, line in where:
            top = f.parts[0]
            doc = top + ".md"
            ok = i in docs.get(doc, set()) if top.startswith("mod_b2c_") else i in anywhere
            if not ok:
                missing.append("B2C%s (%s:%d) in %s" % (
                    i, f.as_posix(), line,
                    "docs/" + doc if top.startswith("mod_b2c_") else "docs/"))
    assert not missing, "log ids not documented: %s" % "; ".join(missing)


def test_no_stale_doc_rows():
    found, _ = uses()
    stale = sorted("B2C%s in docs/%s" % (i, name)
                   for name, ids in documented().items() for i in ids if i not in found)
    assert not stale, "documented log ids the code does not log: %r" % stale
