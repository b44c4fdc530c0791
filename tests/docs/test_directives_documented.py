# SPDX-License-Identifier: Apache-2.0
"""Keep the directive tables, the docs and the sample configs in step.

For every module directory mod_b2c_*/ at the top of the repository:

- the directives are read from the command tables in its *.c files
  (AP_INIT_TAKE1("B2CAuthXxx", ...), AP_INIT_ITERATE, AP_INIT_FLAG, ...);
- docs/<module dir>.md must have a "## Name" section for each of them, with
  Description / Syntax / Default / Context fields, and no section for a
  directive the code does not have;
- a section directive (registered as "<Name", like httpd's own "<Proxy")
  is documented under "## <Name>", and its Syntax shows both "<Name ...>"
  and "</Name>";
- the module's *.conf file(s) must mention each of them;
- no doc or sample config may name a directive with the module's prefix
  (e.g. "B2CAuth...") that the code does not define (catches typos); names
  another module defines are fine ("B2CAuthority" is mod_b2c_client's);
- no doc, sample config or README may name any "B2C<Upper>..." word that no
  module defines (catches typos where modules share no longer prefix).

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
_AP_INIT = re.compile(r'\bAP_INIT_[A-Z0-9_]+\s*\(\s*(?:"([^"\\]+)"|([A-Za-z_]\w*)\s*,)')
_STRING_DEFINE = re.compile(r'^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+"([^"\\]+)"[ \t]*$', re.M)
_MODULE_DEF = re.compile(
    r"\bmodule\s+AP_MODULE_DECLARE_DATA\s+(\w+)\s*=|\bAP_DECLARE_MODULE\s*\(\s*(\w+)\s*\)"
)
_HEADING2 = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_HEADING_ANY = re.compile(r"^#{1,6}[ \t]", re.M)
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# "<Name>", or "`<Name>`" / "\\<Name\\>" so that GitHub does not take it for
# an HTML tag and render an empty heading.
_SECTION_HEADING = re.compile(r"^(`?)\\?<([A-Za-z][A-Za-z0-9]*)\\?>\1$")
_B2C_WORD = re.compile(r"(?<![A-Za-z0-9_])B2C[A-Z][A-Za-z0-9]*")
_FIELDS = ("Description", "Syntax", "Default", "Context")


def strip_c_comments(src):
    """C source without comments (string literals kept, so names survive)."""
    return _C_COMMENT_OR_STRING.sub(
        lambda m: m.group(1) or m.group(2) or " ", src)


def directives_in_c(src):
    """Directive names registered by AP_INIT_* entries, minus borrowed ones.
    A name given as a macro (#define SECTION "<B2CClient") is resolved; a
    macro that is not a string #define in src fails loudly."""
    code = strip_c_comments(src)
    defines = dict(_STRING_DEFINE.findall(code))
    names = set()
    for literal, macro in _AP_INIT.findall(code):
        if macro:
            assert macro in defines, (
                "AP_INIT_* names its directive with %s, which is no string "
                "#define in the same sources" % macro)
            literal = defines[macro]
        names.add(literal)
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


def directive_key(heading):
    """The directive a heading names, as the command table spells it:
    'B2CScope' for '## B2CScope', '<B2CClient' for '## <B2CClient>' or
    '## `<B2CClient>`'; None for a heading that is not one name."""
    if _IDENT.match(heading):
        return heading
    m = _SECTION_HEADING.match(heading)
    return "<" + m.group(2) if m else None


def documented_directives(md):
    """Sections that document a directive: a heading naming one directive
    (or one <Section>) that either starts with 'B2C' or whose body has a
    Syntax field. Keyed by directive_key()."""
    out = {}
    for h, body in doc_sections(md).items():
        key = directive_key(h)
        if key and (key.lstrip("<").startswith("B2C") or field_line(body, "Syntax")):
            out[key] = body
    return out


def missing_fields(name, body):
    """Reference fields a directive section lacks."""
    missing = [f for f in _FIELDS if not field_line(body, f)]
    syntax = field_line(body, "Syntax")
    if syntax and not mentions(syntax, name):
        missing.append("Syntax naming %s" % name)
    if syntax and name.startswith("<") and not mentions(syntax, "</" + name[1:] + ">"):
        missing.append("Syntax closing with </%s>" % name[1:])
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


def bare(names):
    """Directive names as they appear in text after '<' or '</'."""
    return {n.lstrip("<") for n in names}


def unknown_b2c_words(text, known):
    return set(_B2C_WORD.findall(text)) - bare(known)


def unknown_prefixed_names(text, prefix, known):
    if not prefix:
        return set()
    found = set(re.findall(r"(?<![A-Za-z0-9_])(%s[A-Za-z0-9]*)" % re.escape(prefix), text))
    return found - known


# --- the regexes themselves, against fixtures (independent of the tree) ---

FIXTURE_C = r'''
#define FIX_SECTION "<B2CFixSection"
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
    AP_INIT_RAW_ARGS(FIX_SECTION, set_section, NULL, RSRC_CONF, "<B2CFixSection name>"),
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

## <B2CFixSection>

| | |
|---|---|
| Description | a section |
| Syntax | `<B2CFixSection name> ... </B2CFixSection>` |
| Default | none |
| Context | server config |

```apache
<B2CFixSection a>
</B2CFixSection>
```

## <Location>

Prose about httpd's own section, not a directive of this module.
"""


def test_fixture_directive_extraction():
    assert directives_in_c(FIXTURE_C) == {
        "B2CFixOne", "B2CFixMany", "B2CFixFlag", "B2CFixRaw",
        "B2CFixTake12", "B2CFixArgv", "B2CFixNoArgs", "<B2CFixSection",
    }


def test_fixture_module_name():
    assert module_names_in_c(FIXTURE_C) == {"fix_module"}
    assert module_names_in_c("AP_DECLARE_MODULE(b2c_auth) = {") == {"b2c_auth_module"}


def test_fixture_doc_sections():
    docs = documented_directives(FIXTURE_MD)
    # "Summary" and "Responses" are prose sections (the word Syntax in a
    # table cell is not a Syntax field); both B2C* headings count.
    # "<B2CFixSection>" documents the section directive "<B2CFixSection";
    # "<Location>" has no Syntax field and is not ours.
    assert set(docs) == {"B2CFixOne", "B2CFixGhost", "<B2CFixSection"}
    assert "Summary" in doc_sections(FIXTURE_MD)
    assert missing_fields("<B2CFixSection", docs["<B2CFixSection"]) == []
    unclosed = docs["<B2CFixSection"].replace(" ... </B2CFixSection>", "")
    assert missing_fields("<B2CFixSection", unclosed) == [
        "Syntax closing with </B2CFixSection>"]
    assert mentions("#    <B2CFixSection a>", "<B2CFixSection")
    for h in ("<B2CFixSection>", "`<B2CFixSection>`", "\\<B2CFixSection\\>"):
        assert directive_key(h) == "<B2CFixSection", h
    for h in ("`<B2CFixSection>", "<B2CFixSection> and more", "<B2C Fix>"):
        assert directive_key(h) is None, h
    assert not mentions("<B2CFixSectionX a>", "<B2CFixSection")
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
    known = {"B2CAuthIssuer", "<B2CClient", "B2CAuthority"}
    text = "<B2CClient a> B2CAuthority B2CAuthIssuer B2CClientTokn B2C01105 B2C_CLAIM_roles"
    assert unknown_b2c_words(text, known) == {"B2CClientTokn"}
    assert unknown_prefixed_names(text, "B2CAuth", known) == set()


# --- the real tree ---

MODULE_DIRS = sorted(p for p in ROOT.glob("mod_b2c_*") if p.is_dir())


def all_directives():
    """Every directive any module's C sources define."""
    names = set()
    for d in MODULE_DIRS:
        names |= directives_in_c("\n".join(
            f.read_text(errors="replace") for f in sorted(d.glob("*.c"))))
    return names


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
    known = bare(all_directives())
    bad = {}
    for f in files:
        unknown = unknown_prefixed_names(f.read_text(), module.prefix, known)
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


def test_no_unknown_b2c_words():
    known = all_directives()
    files = (sorted(DOCS.glob("*.md")) + sorted(ROOT.glob("mod_b2c_*/*.conf"))
             + [ROOT / "README.md"])
    bad = {}
    for f in files:
        if f.is_file():
            unknown = unknown_b2c_words(f.read_text(), known)
            if unknown:
                bad[str(f.relative_to(ROOT))] = sorted(unknown)
    assert not bad, "B2C... names no module defines: %s" % bad
