"""Keep the directive tables, the docs and the sample configs in step.

For every module directory mod_b2c_*/ at the top of the repository:

- the directives are read from the command tables in its *.c files
  (AP_INIT_TAKE1("B2CAuthXxx", ...), AP_INIT_ITERATE, AP_INIT_FLAG, ...);
- docs/<module dir>.md must have a "## Name" section for each of them, with
  Description / Syntax / Default / Context fields, and no section for a
  directive the code does not have;
- the module's *.conf file(s) must mention each of them;
- no doc or sample config may name a directive with the module's prefix
  (e.g. "B2CAuth...") that the code does not define (catches typos).

A module directory that has C sources but no directive found fails: that
means the extraction regex no longer fits the code. A directory without C
sources yet is skipped.

Run: /usr/bin/python3 -m pytest tests/docs (stdlib + pytest only).
"""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# Core directives a module may also register to observe them (returning
# DECLINE_CMD so the owner still handles them). Documented by httpd itself.
BORROWED = {"AuthType", "AuthName", "AuthBasicProvider", "Require"}

_C_COMMENT_OR_STRING = re.compile(
    r'("(?:\\.|[^"\\\n])*")'   # string literal: keep
    r"|('(?:\\.|[^'\\\n])*')"  # char literal: keep
    r"|/\*.*?\*/"              # block comment: drop
    r"|//[^\n]*",              # line comment: drop
    re.S,
)
_AP_INIT = re.compile(r'\bAP_INIT_[A-Z0-9_]+\s*\(\s*"([^"\\]+)"')
_MODULE_DEF = re.compile(
    r"\bmodule\s+AP_MODULE_DECLARE_DATA\s+(\w+)\s*=|\bAP_DECLARE_MODULE\s*\(\s*(\w+)\s*\)"
)
_HEADING2 = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_HEADING_ANY = re.compile(r"^#{1,6}[ \t]", re.M)
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_FIELDS = ("Description", "Syntax", "Default", "Context")


def strip_c_comments(src):
    """C source without comments (string literals kept, so names survive)."""
    return _C_COMMENT_OR_STRING.sub(
        lambda m: m.group(1) or m.group(2) or " ", src)


def directives_in_c(src):
    """Directive names registered by AP_INIT_* entries, minus borrowed ones."""
    names = set(_AP_INIT.findall(strip_c_comments(src)))
    return names - BORROWED


def module_names_in_c(src):
    """Module record names defined in src (e.g. 'b2c_auth_module')."""
    out = set()
    for m in _MODULE_DEF.finditer(strip_c_comments(src)):
        out.add(m.group(1) or m.group(2) + "_module")
    return out


def doc_sections(md):
    """{heading: body} for each '## Heading' section (body runs to the next
    heading of any level)."""
    out = {}
    for m in _HEADING2.finditer(md):
        start = m.end()
        nxt = _HEADING_ANY.search(md, start)
        out[m.group(1).strip()] = md[start:nxt.start() if nxt else len(md)]
    return out


def field_line(body, field):
    """The line giving a reference field, as a table row ('| Syntax | ...')
    or a definition ('Syntax: ...', '**Syntax:** ...'), or None."""
    m = re.search(r"^[ \t]*(?:\|[ \t]*\**%s\**[ \t]*\||\**%s\**[ \t]*:)[^\n]*"
                  % (field, field), body, re.M)
    return m.group(0) if m else None


def documented_directives(md):
    """Sections that document a directive: a one-word heading that either
    starts with 'B2C' or whose body has a Syntax field."""
    return {
        h: body for h, body in doc_sections(md).items()
        if _IDENT.match(h) and (h.startswith("B2C") or field_line(body, "Syntax"))
    }


def missing_fields(name, body):
    """Reference fields a directive section lacks."""
    missing = [f for f in _FIELDS if not field_line(body, f)]
    syntax = field_line(body, "Syntax")
    if syntax and not mentions(syntax, name):
        missing.append("Syntax naming %s" % name)
    ctx = field_line(body, "Context")
    if ctx and ".htaccess" in ctx and not field_line(body, "Override"):
        missing.append("Override (usable in .htaccess)")
    if not re.search(r"^```", body, re.M):
        missing.append("Example")
    return missing


def mentions(text, name):
    return re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(name), text) is not None


def directive_prefix(names):
    """Common prefix of a module's directives ('B2CAuth'), or '' if it is too
    short to tell this module's names from another's."""
    prefix = os.path.commonprefix(sorted(names)) if names else ""
    m = re.match(r"^(B2C[A-Z][a-z0-9]+)", prefix)
    return m.group(1) if m else ""


def unknown_prefixed_names(text, prefix, known):
    if not prefix:
        return set()
    found = set(re.findall(r"(?<![A-Za-z0-9_])(%s[A-Za-z0-9]*)" % re.escape(prefix), text))
    return found - known


# --- the regexes themselves, against fixtures (independent of the tree) ---

FIXTURE_C = r'''
static const command_rec cmds[] = {
    AP_INIT_TAKE1("AuthType", note_auth_type, NULL, OR_AUTHCFG, "noted"),
    AP_INIT_TAKE1("B2CFixOne", set_one, NULL, OR_AUTHCFG, "one"),
    AP_INIT_ITERATE( "B2CFixMany" , add_many, NULL, OR_AUTHCFG,
                    "many, with \"quotes\" and a // not-a-comment"),
    AP_INIT_FLAG(
        "B2CFixFlag", set_flag, NULL, OR_AUTHCFG, "On|Off"),
    AP_INIT_RAW_ARGS("B2CFixRaw", set_raw, NULL, RSRC_CONF, "raw"),
    AP_INIT_TAKE12("B2CFixTake12", set_12, NULL, RSRC_CONF, "1 or 2"),
    AP_INIT_TAKE_ARGV("B2CFixArgv", set_argv, NULL, RSRC_CONF, "argv"),
    AP_INIT_NO_ARGS("B2CFixNoArgs", set_none, NULL, RSRC_CONF, "none"),
    /* AP_INIT_TAKE1("B2CFixDeadBlock", x, NULL, OR_ALL, "gone"), */
    // AP_INIT_FLAG("B2CFixDeadLine", x, NULL, OR_ALL, "gone"),
    { NULL }
};
module AP_MODULE_DECLARE_DATA fix_module = { STANDARD20_MODULE_STUFF };
'''

FIXTURE_MD = """# Apache Module mod_fix

## Summary

Text mentioning B2CFixOne.

## B2CFixOne

| | |
|---|---|
| Description | one |
| Syntax | `B2CFixOne value` |
| Default | none |
| Context | directory, .htaccess |
| Override | AuthConfig |

## Responses

| Status | Syntax of the header |

# Directives

## B2CFixGhost

| Description | Syntax | Default | Context |
"""


def test_fixture_directive_extraction():
    assert directives_in_c(FIXTURE_C) == {
        "B2CFixOne", "B2CFixMany", "B2CFixFlag", "B2CFixRaw",
        "B2CFixTake12", "B2CFixArgv", "B2CFixNoArgs",
    }


def test_fixture_module_name():
    assert module_names_in_c(FIXTURE_C) == {"fix_module"}
    assert module_names_in_c("AP_DECLARE_MODULE(b2c_auth) = {") == {"b2c_auth_module"}


def test_fixture_doc_sections():
    docs = documented_directives(FIXTURE_MD)
    # "Summary" and "Responses" are prose sections (the word Syntax in a
    # table cell is not a Syntax field); both B2C* headings count.
    assert set(docs) == {"B2CFixOne", "B2CFixGhost"}
    assert "Summary" in doc_sections(FIXTURE_MD)
    assert missing_fields("B2CFixOne", docs["B2CFixOne"]) == ["Example"]
    ghost = missing_fields("B2CFixGhost", docs["B2CFixGhost"])
    assert "Syntax" in ghost and "Description" not in ghost
    syntax_def = "Syntax: `B2CFixOne value`\nContext: directory, .htaccess\n"
    assert missing_fields("B2CFixOne", syntax_def) == [
        "Description", "Default", "Override (usable in .htaccess)", "Example"]


def test_fixture_prefix_and_typos():
    names = {"B2CAuthAudience", "B2CAuthIssuer"}
    assert directive_prefix(names) == "B2CAuth"
    assert directive_prefix({"B2CAuthX", "B2CClientY"}) == ""
    text = "B2CAuthAudience B2CAuthAudiences B2C_CLAIM_roles b2c_auth_module B2CClientId"
    assert unknown_prefixed_names(text, "B2CAuth", names) == {"B2CAuthAudiences"}
    assert mentions("#B2CAuthIssuer x", "B2CAuthIssuer")
    assert not mentions("B2CAuthIssuers", "B2CAuthIssuer")


# --- the real tree ---

MODULE_DIRS = sorted(p for p in ROOT.glob("mod_b2c_*") if p.is_dir())


def test_module_dirs_found():
    assert MODULE_DIRS, "no mod_b2c_*/ directory under %s" % ROOT


class Module:
    def __init__(self, path):
        self.path = path
        self.name = path.name
        self.c_files = sorted(path.glob("*.c"))
        self.conf_files = sorted(path.glob("*.conf"))
        self.doc = DOCS / (self.name + ".md")
        src = "\n".join(f.read_text(errors="replace") for f in self.c_files)
        self.directives = directives_in_c(src)
        self.module_names = module_names_in_c(src)
        self.prefix = directive_prefix(self.directives)


@pytest.fixture(params=MODULE_DIRS, ids=lambda p: p.name)
def module(request):
    m = Module(request.param)
    if not m.c_files:
        pytest.skip("%s has no C sources yet" % m.name)
    return m


def test_directives_found(module):
    assert module.directives, (
        "%s/*.c has no AP_INIT_*(\"Name\", ...) entries: the command table "
        "moved or the regex in this test no longer fits" % module.name)


def test_every_directive_documented(module):
    assert module.doc.is_file(), "missing %s" % module.doc.relative_to(ROOT)
    documented = documented_directives(module.doc.read_text())
    missing = sorted(module.directives - set(documented))
    assert not missing, "%s lacks '## Name' sections for: %s" % (
        module.doc.relative_to(ROOT), ", ".join(missing))


def test_no_documented_directive_without_code(module):
    if not module.doc.is_file():
        pytest.skip("no docs yet (reported by test_every_directive_documented)")
    documented = documented_directives(module.doc.read_text())
    extra = sorted(set(documented) - module.directives)
    assert not extra, "%s documents directives the code does not have: %s" % (
        module.doc.relative_to(ROOT), ", ".join(extra))


def test_directive_sections_complete(module):
    if not module.doc.is_file():
        pytest.skip("no docs yet (reported by test_every_directive_documented)")
    documented = documented_directives(module.doc.read_text())
    problems = {n: missing_fields(n, b) for n, b in documented.items()
                if n in module.directives}
    problems = {n: m for n, m in problems.items() if m}
    assert not problems, "incomplete directive sections: %s" % "; ".join(
        "%s: %s" % (n, ", ".join(m)) for n, m in sorted(problems.items()))


def test_every_directive_in_sample_conf(module):
    assert module.conf_files, "no sample .conf in %s/" % module.name
    text = "\n".join(f.read_text() for f in module.conf_files)
    missing = sorted(d for d in module.directives if not mentions(text, d))
    assert not missing, "%s does not mention: %s" % (
        ", ".join(str(f.relative_to(ROOT)) for f in module.conf_files),
        ", ".join(missing))


def test_no_unknown_directive_names(module):
    files = list(module.conf_files) + sorted(DOCS.glob("*.md"))
    bad = {}
    for f in files:
        unknown = unknown_prefixed_names(f.read_text(), module.prefix, module.directives)
        if unknown:
            bad[str(f.relative_to(ROOT))] = sorted(unknown)
    assert not bad, "names with prefix %r that the code does not define: %s" % (
        module.prefix, bad)


def test_load_file_names_the_module(module):
    loads = sorted(module.path.glob("*.load"))
    if not loads or not module.module_names:
        pytest.skip("no .load file or no module record in the C sources yet")
    for f in loads:
        named = set(re.findall(r"^\s*LoadModule\s+(\w+)\s", f.read_text(), re.M))
        assert named and named <= module.module_names, (
            "%s loads %s; the C sources define %s" % (
                f.relative_to(ROOT), sorted(named), sorted(module.module_names)))
