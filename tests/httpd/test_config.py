# SPDX-License-Identifier: Apache-2.0
"""Configuration errors caught by `apache2 -t` (and the good config passing it)."""

import pytest

from conftest import AUD, ROLE, base_rules


def check(make_httpd, idp_base, lines, server_extra=''):
    h = make_httpd(server_extra=server_extra)
    h.add_location('conf', 'api', lines)
    return h.check()


@pytest.fixture
def md(shared_idp):
    return shared_idp


def test_good_config_syntax_ok(make_httpd, md):
    rc, out = check(make_httpd, md.base, base_rules(md) + [
        'AuthName "x y"', 'B2CAuthIssuer https://login.microsoftonline.com/{tenantid}/v2.0',
        'B2CAuthAlgorithms RS256 PS256 ES256', 'B2CAuthClockSkew 60', 'B2CAuthRemoteUser oid',
        'B2CAuthClaimsEnv Off', 'B2CAuthClaimsHeaders On',
        'Require role %s' % ROLE, 'Require scope a b', 'Require b2c-claim azp x y'],
        server_extra='B2CAuthMetadataAllow http://127.0.0.1/\nB2CAuthRefreshInterval 600\n'
                     'B2CAuthKidRefreshInterval 60\nB2CAuthFetchTimeout 3\n'
                     'B2CAuthTokenCacheEntries 100')
    assert rc == 0, out
    assert 'Syntax OK' in out


BAD_DIR = {
    'alg_none': ['B2CAuthAlgorithms none'],
    'alg_hs256': ['B2CAuthAlgorithms RS256 HS256'],
    'alg_unknown': ['B2CAuthAlgorithms FOO256'],
    'skew_nonnumeric': ['B2CAuthClockSkew abc'],
    'skew_negative': ['B2CAuthClockSkew -1'],
    'skew_too_big': ['B2CAuthClockSkew 86401'],
    'claims_env_bad': ['B2CAuthClaimsEnv maybe'],
}


@pytest.mark.parametrize('case', sorted(BAD_DIR))
def test_bad_directive_values(make_httpd, md, case):
    rc, out = check(make_httpd, md.base, base_rules(md) + BAD_DIR[case] + ['Require role %s' % ROLE])
    assert rc == 1, out   # 1: config error (not a crash: -11)


@pytest.mark.parametrize('lines', [
    ['Require role'], ['Require scope'], ['Require b2c-claim'], ['Require b2c-claim azp']],
    ids=['role', 'scope', 'claim0', 'claim1'])
def test_require_without_args(make_httpd, md, lines):
    rc, out = check(make_httpd, md.base, base_rules(md) + lines)
    assert rc == 1, out   # 1: config error (not a crash: -11)


def test_metadata_url_not_http(make_httpd, md):
    rc, out = check(make_httpd, md.base, ['AuthType Bearer', 'B2CAuthMetadataURL ftp://x/y',
                                          'B2CAuthAudience %s' % AUD, 'Require role %s' % ROLE])
    assert rc == 1, out   # 1: config error (not a crash: -11)


def test_bearer_without_audience(make_httpd, md):
    rc, out = check(make_httpd, md.base, ['AuthType Bearer',
                                          'B2CAuthMetadataURL %s' % md.metadata_url(),
                                          'Require role %s' % ROLE])
    assert rc == 1, out   # 1: config error (not a crash: -11)
    assert 'B2CAuthAudience' in out


def test_bearer_without_metadata(make_httpd, md):
    rc, out = check(make_httpd, md.base, ['AuthType Bearer', 'B2CAuthAudience %s' % AUD,
                                          'Require role %s' % ROLE])
    assert rc == 1, out   # 1: config error (not a crash: -11)
    assert 'B2CAuthMetadataURL' in out


def test_inherited_settings_satisfy_check(make_httpd, md):
    """Audience/metadata set on a parent directory count for a child with AuthType Bearer."""
    h = make_httpd()
    h.add_raw('<Directory "%s/htdocs/conf">\n    B2CAuthMetadataURL %s\n    B2CAuthAudience %s\n'
              '</Directory>' % (h.root, md.metadata_url(), AUD))
    h.add_location('conf', 'api', ['AuthType Bearer', 'Require role %s' % ROLE])
    rc, out = h.check()
    assert rc == 0, out


def test_location_section_checked(make_httpd, md):
    h = make_httpd()
    h.add_raw('<Location /x>\n    AuthType Bearer\n    B2CAuthAudience %s\n    Require valid-user\n'
              '</Location>' % AUD)
    rc, out = h.check()
    assert rc == 1, out   # 1: config error (not a crash: -11)


@pytest.mark.parametrize('directive', ['B2CAuthMetadataAllow http://x/', 'B2CAuthRefreshInterval 5',
                                       'B2CAuthKidRefreshInterval 5', 'B2CAuthFetchTimeout 5',
                                       'B2CAuthTokenCacheEntries 5'])
def test_server_only_directives_rejected_in_directory(make_httpd, md, directive):
    rc, out = check(make_httpd, md.base, base_rules(md) + [directive, 'Require valid-user'])
    assert rc == 1, out   # 1: config error (not a crash: -11)


def test_server_only_directive_in_htaccess_500(make_httpd, md):
    h = make_httpd(server_extra='B2CAuthMetadataAllow %s/' % md.base)
    h.add_location('htaccess', 'api', base_rules(md) + ['B2CAuthFetchTimeout 1',
                                                        'Require valid-user'])
    h.start()
    assert h.at('htaccess', 'api', md.mint()).status == 500


def test_config_without_module_user_is_fine(make_httpd, md):
    """The module loaded but unused: httpd starts and serves."""
    h = make_httpd()
    h.start()
    r = h.get('/testdata')
    assert r.status == 200 and r.body == 'Operation authorized'
