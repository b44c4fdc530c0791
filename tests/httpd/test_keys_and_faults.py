# SPDX-License-Identifier: Apache-2.0
"""mod_b2c_auth with its own httpd and IdP per test: key rotation, unknown-kid floods,
identity platform outages, and the shared-hosting guard without an allow-list."""

import time

import pytest

import idp as idpmod

from conftest import AUD, HTTPD_PROCS, ROLE, base_rules
from conftest import poll as _poll
from test_auth import assert_invalid_token, assert_ok

RULES = lambda i, *extra: base_rules(i) + list(extra) + ['Require role %s' % ROLE]


def one_site(make_httpd, idp, mode='conf', server_extra='', rules=None):
    h = make_httpd(server_extra='B2CAuthMetadataAllow %s/\n%s' % (idp.base, server_extra))
    h.add_location(mode, 'api', rules or RULES(idp))
    return h.start()


def poll(fn, timeout=10, interval=0.1):
    """conftest.poll, 10 s unless told."""
    return _poll(fn, timeout, interval)


def wait_out_fresh_keys(interval=1):
    """Keys younger than B2CAuthKidRefreshInterval (at most 30 s) count as current:
    an unknown kid does not refetch them. Tests of a rotation wait that out."""
    time.sleep(interval + 0.2)


@pytest.mark.parametrize('mode', ['conf', 'htaccess'])
def test_key_rotation_unknown_kid_refresh(make_httpd, idp, mode):
    h = one_site(make_httpd, idp, mode, server_extra='B2CAuthKidRefreshInterval 1')
    assert_ok(h.at(mode, 'api', idp.mint()))
    jwks0 = idp.counts['jwks']
    assert jwks0 >= 1
    new = idp.rotate_keys(keep_old=True)
    wait_out_fresh_keys()
    # new kid: one refresh, then accepted
    assert_ok(h.at(mode, 'api', idp.mint(key=new)))
    assert idp.counts['jwks'] == jwks0 + 1, idp.counts
    # old key still published: still fine, no extra fetch
    assert_ok(h.at(mode, 'api', idp.mint(key=idp.keys[0])))
    for _ in range(5):
        assert_ok(h.at(mode, 'api', idp.mint(key=new)))
    assert idp.counts['jwks'] == jwks0 + 1, idp.counts


def test_new_kid_right_after_a_fetch_is_not_refetched(make_httpd, idp):
    """The keys were fetched a moment ago (default interval): an unknown kid is refused
    without a second fetch. This is what makes a flood of forged kids cost one fetch."""
    h = one_site(make_httpd, idp)
    assert_ok(h.at('conf', 'api', idp.mint()))
    n = idp.counts['jwks']
    k1 = idp.rotate_keys(keep_old=True)
    assert_invalid_token(h.at('conf', 'api', idp.mint(key=k1)))
    assert idp.counts['jwks'] == n, idp.counts
    assert_ok(h.at('conf', 'api', idp.mint(key=idp.keys[0])))


def test_second_rotation_within_kid_interval_is_rate_limited(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthKidRefreshInterval 2')
    assert_ok(h.at('conf', 'api', idp.mint()))
    k1 = idp.rotate_keys()
    wait_out_fresh_keys(2)
    assert_ok(h.at('conf', 'api', idp.mint(key=k1)))
    n = idp.counts['jwks']
    k2 = idp.rotate_keys()
    assert_invalid_token(h.at('conf', 'api', idp.mint(key=k2)))   # within 2 s: no refetch
    assert idp.counts['jwks'] == n


def test_kid_refresh_interval_directive(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthKidRefreshInterval 1')
    assert_ok(h.at('conf', 'api', idp.mint()))
    k1 = idp.rotate_keys()
    wait_out_fresh_keys()
    assert_ok(h.at('conf', 'api', idp.mint(key=k1)))
    k2 = idp.rotate_keys()
    wait_out_fresh_keys()   # let the 1 s kid-refresh interval pass (what is being tested)
    assert_ok(h.at('conf', 'api', idp.mint(key=k2)))


def test_unknown_kid_flood_does_not_hammer_idp(make_httpd, idp):
    import secrets
    h = one_site(make_httpd, idp)
    assert_ok(h.at('conf', 'api', idp.mint()))
    for _ in range(50):
        kid = secrets.token_urlsafe(20)
        r = h.at('conf', 'api', idp.mint(key=idp.unpublished, header={'kid': kid, 'x5t': kid}))
        assert_invalid_token(r)
    assert idp.counts['jwks'] == HTTPD_PROCS, idp.counts       # the first fetch only
    assert idp.counts['metadata'] == HTTPD_PROCS, idp.counts
    assert_ok(h.at('conf', 'api', idp.mint()))


def test_unknown_kid_flood_before_any_fetch(make_httpd, idp):
    import secrets
    h = one_site(make_httpd, idp)
    for _ in range(50):
        kid = secrets.token_urlsafe(20)
        assert_invalid_token(h.at('conf', 'api', idp.mint(key=idp.unpublished,
                                                          header={'kid': kid, 'x5t': kid})))
    assert idp.counts['jwks'] == HTTPD_PROCS, idp.counts
    assert_ok(h.at('conf', 'api', idp.mint()))


def _parallel(fn, n):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(lambda _: fn(), range(n)))


def test_parallel_unknown_kid_flood(make_httpd, idp):
    import secrets
    h = one_site(make_httpd, idp)
    assert_ok(h.at('conf', 'api', idp.mint()))
    toks = []
    for _ in range(48):
        kid = secrets.token_urlsafe(20)
        toks.append(idp.mint(key=idp.unpublished, header={'kid': kid, 'x5t': kid}))
    it = iter(toks)
    rs = _parallel(lambda: h.at('conf', 'api', next(it)), 48)
    assert all(r.status == 401 for r in rs), [r.status for r in rs]
    assert idp.counts['jwks'] == HTTPD_PROCS, idp.counts


def test_parallel_cold_start_fetches_once(make_httpd, idp):
    """Beyond the spec's letter: 16 concurrent first requests should not each fetch keys."""
    h = one_site(make_httpd, idp)
    idp.slow(0.5, 'metadata')
    rs = _parallel(lambda: h.at('conf', 'api', idp.mint()), 16)
    assert all(r.status == 200 for r in rs), [r.status for r in rs]
    assert idp.counts['jwks'] <= 2, idp.counts


@pytest.mark.parametrize('how', ['status', 'close'])
def test_idp_down_at_first_request_503(make_httpd, idp, how):
    idp.outage(True, how)
    h = one_site(make_httpd, idp)        # httpd must start although the IdP is down
    mark = h.log_mark()
    r = h.at('conf', 'api', idp.mint())
    assert r.status == 503, r
    assert h.log_since(mark).strip(), 'no log line explaining the 503'
    # no token: still the plain challenge (no fetch needed to say "send a token")
    r = h.at('conf', 'api')
    assert r.status in (401, 503), r


def test_idp_recovers_after_outage(make_httpd, idp):
    idp.outage(True)
    h = one_site(make_httpd, idp)
    assert h.at('conf', 'api', idp.mint()).status == 503
    idp.outage(False)
    r = poll(lambda: h.at('conf', 'api', idp.mint()).status == 200, timeout=15, interval=0.5)
    assert r, 'still failing 15 s after the IdP came back: %r' % h.at('conf', 'api', idp.mint())


@pytest.mark.parametrize('fault', ['garbage', 'huge'])
def test_bad_jwks_body_503(make_httpd, idp, fault):
    idp.set_fault('jwks', fault, size=20 * 1024 * 1024)
    h = one_site(make_httpd, idp)
    r = h.at('conf', 'api', idp.mint())
    assert r.status == 503, r
    assert h.alive()


def test_bad_metadata_body_503(make_httpd, idp):
    idp.set_fault('metadata', 'garbage')
    h = one_site(make_httpd, idp)
    assert h.at('conf', 'api', idp.mint()).status == 503


def test_slow_idp_bounded_by_fetch_timeout(make_httpd, idp):
    idp.slow(20)
    h = one_site(make_httpd, idp, server_extra='B2CAuthFetchTimeout 2')
    t0 = time.monotonic()
    r = h.at('conf', 'api', idp.mint(), timeout=30)
    took = time.monotonic() - t0
    assert r.status == 503, r
    assert took < 8, 'fetch took %.1fs with B2CAuthFetchTimeout 2' % took


def test_idp_down_after_keys_cached(make_httpd, idp):
    h = one_site(make_httpd, idp)
    assert_ok(h.at('conf', 'api', idp.mint()))
    idp.outage(True)
    assert_ok(h.at('conf', 'api', idp.mint()))       # a new token: verified with cached keys
    idp.outage(True, 'close')
    assert_ok(h.at('conf', 'api', idp.mint()))


def test_refresh_failure_keeps_old_keys(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthRefreshInterval 1')
    assert_ok(h.at('conf', 'api', idp.mint()))
    idp.reset_counters()
    idp.outage(True)
    # the scheduled refresh is attempted (and fails) while tokens keep being accepted
    def attempted():
        assert_ok(h.at('conf', 'api', idp.mint()))
        return idp.counts['metadata'] + idp.counts['jwks'] > 0
    assert poll(attempted, timeout=10, interval=0.3), 'no refresh attempted with interval 1 s'
    assert_ok(h.at('conf', 'api', idp.mint()))
    # back up: a rotated key gets picked up by the scheduled refresh
    idp.outage(False)
    new = idp.rotate_keys(keep_old=False)
    assert poll(lambda: h.at('conf', 'api', idp.mint(key=new)).status == 200,
                timeout=10, interval=0.3), 'new key not picked up after the IdP came back'
    assert idp.counts['jwks'] > 0


def test_refresh_garbage_keeps_old_keys(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthRefreshInterval 1')
    assert_ok(h.at('conf', 'api', idp.mint()))
    idp.reset_counters()
    idp.set_fault('jwks', 'garbage')
    idp.set_fault('metadata', 'status', status=200, body='{"issuer": 5}')

    def attempted():
        assert_ok(h.at('conf', 'api', idp.mint()))
        return idp.counts['metadata'] + idp.counts['jwks'] > 0
    assert poll(attempted, timeout=10, interval=0.3)
    for _ in range(3):
        assert_ok(h.at('conf', 'api', idp.mint()))


def test_removed_key_rejected_after_refresh(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthRefreshInterval 1')
    old = idp.key()
    assert_ok(h.at('conf', 'api', idp.mint()))
    idp.rotate_keys(keep_old=False)
    # within a few refresh intervals a key gone from the JWKS stops being accepted
    assert poll(lambda: h.at('conf', 'api', idp.mint(key=old)).status == 401, timeout=10,
                interval=0.3), 'key removed from the JWKS still accepted after 10 s'
    assert_ok(h.at('conf', 'api', idp.mint()))


def test_token_cache_entries_zero(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthTokenCacheEntries 0')
    tok = idp.mint()
    for _ in range(3):
        assert_ok(h.at('conf', 'api', tok))


def test_small_token_cache_evicts_correctly(make_httpd, idp):
    h = one_site(make_httpd, idp, server_extra='B2CAuthTokenCacheEntries 2')
    good = [idp.mint() for _ in range(6)]
    bad = [idp.mint(roles=['x']) for _ in range(3)]
    for _ in range(3):
        for t in good:
            assert_ok(h.at('conf', 'api', t))
        for t in bad:
            assert h.at('conf', 'api', t).status == 403


def test_cached_valid_token_expires(make_httpd, idp):
    h = one_site(make_httpd, idp, rules=RULES(idp, 'B2CAuthClockSkew 0'))
    tok = idp.mint(lifetime=3)
    exp = idpmod.decode_jwt(tok)[1]['exp']
    assert_ok(h.at('conf', 'api', tok))
    time.sleep(max(0.0, exp - time.time()) + 1.1)   # past exp: the cache must honour it
    assert_invalid_token(h.at('conf', 'api', tok))


@pytest.mark.parametrize('sig', ['SIGUSR1', 'SIGHUP'])
def test_restart_keeps_working(make_httpd, idp, sig):
    """Graceful (SIGUSR1) and plain (SIGHUP) restarts: post_config runs again."""
    import signal
    h = one_site(make_httpd, idp)
    assert_ok(h.at('conf', 'api', idp.mint()))
    h.proc.send_signal(getattr(signal, sig))
    assert poll(lambda: h.error_log().count('resuming normal operations') >= 2, timeout=15), \
        h.error_log()[-2000:]
    assert poll(lambda: _ok(h, idp), timeout=15), h.error_log()[-2000:]
    assert h.alive()
    assert 'Segmentation fault' not in h.error_log() and 'exit signal' not in h.error_log()
    assert_invalid_token(h.at('conf', 'api', idp.mint(alg='none')))


def _ok(h, idp):
    try:
        return h.at('conf', 'api', idp.mint(), timeout=5).status == 200
    except OSError:
        return False


def test_encryption_key_not_used_for_signatures(make_httpd, idp):
    enc = idp.add_key()
    enc.jwk_extra = {'use': 'enc'}
    h = one_site(make_httpd, idp)
    assert_ok(h.at('conf', 'api', idp.mint()))
    assert_invalid_token(h.at('conf', 'api', idp.mint(key=enc)))


# ---------------------------------------------------------------- https fetches

@pytest.fixture
def tls_idp(workdir, request):
    """An https IdP; request.param: the certificate's subjectAltNames."""
    import os
    import tempfile
    from conftest import _new_idp
    d = tempfile.mkdtemp(dir=workdir)
    os.chmod(d, 0o755)
    ca, cert, key = idpmod.make_tls_files(d, san=getattr(request, 'param', ('127.0.0.1',)))
    i = _new_idp(tls=(cert, key))
    i.ca_file = ca
    yield i
    i.stop()


def test_https_metadata_with_ca_file(make_httpd, tls_idp):
    h = one_site(make_httpd, tls_idp, server_extra='B2CAuthCACertificate %s' % tls_idp.ca_file)
    assert_ok(h.at('conf', 'api', tls_idp.mint()))


def test_https_untrusted_certificate_503(make_httpd, tls_idp):
    h = one_site(make_httpd, tls_idp)              # system store: our CA is unknown
    assert h.at('conf', 'api', tls_idp.mint()).status == 503
    assert tls_idp.counts['metadata'] == 0         # no request got through TLS


@pytest.mark.parametrize('tls_idp', [('other.example',)], indirect=True)
def test_https_wrong_hostname_503(make_httpd, tls_idp):
    h = one_site(make_httpd, tls_idp, server_extra='B2CAuthCACertificate %s' % tls_idp.ca_file)
    assert h.at('conf', 'api', tls_idp.mint()).status == 503
    assert tls_idp.counts['metadata'] == 0


def test_htaccess_https_non_microsoft_without_allow_list_500(make_httpd, tls_idp):
    h = make_httpd(server_extra='B2CAuthCACertificate %s' % tls_idp.ca_file)
    h.add_location('htaccess', 'api', RULES(tls_idp))
    h.start()
    assert h.at('htaccess', 'api', tls_idp.mint()).status == 500
    assert tls_idp.counts['metadata'] == 0


# ---------------------------------------------------------------- shared-hosting guard

def test_htaccess_http_url_without_allow_list_500(make_httpd, idp):
    h = make_httpd()
    h.add_location('htaccess', 'api', RULES(idp))
    h.add_location('conf', 'api', RULES(idp))    # httpd.conf may use any URL
    h.start()
    mark = h.log_mark()
    assert h.at('htaccess', 'api', idp.mint()).status == 500
    assert 'B2CAuthMetadataURL' in h.log_since(mark) or 'B2CAuthMetadataAllow' in h.log_since(mark)
    assert_ok(h.at('conf', 'api', idp.mint()))


MS_TRICKS = {
    'userinfo': 'https://login.microsoftonline.com@127.0.0.1:1/t/v2.0/.well-known/openid-configuration',
    'userinfo_b2c': 'https://x.b2clogin.com:443@127.0.0.1:1/p/v2.0/.well-known/openid-configuration',
    'suffix_host': 'https://login.microsoftonline.com.evil.invalid/t/v2.0/.well-known/openid-configuration',
    'bare_b2clogin': 'https://b2clogin.com/t/p/v2.0/.well-known/openid-configuration',
    'glued_b2clogin': 'https://evilb2clogin.com/t/p/v2.0/.well-known/openid-configuration',
    'http_scheme': 'http://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration',
    'backslash': 'https://127.0.0.1:1\\@login.microsoftonline.com/t/v2.0/.well-known/openid-configuration',
}


def test_htaccess_default_hosts_reject_tricks(make_httpd, idp):
    """No allow-list: only https on Microsoft hosts. Requests carry NO token, so nothing is
    ever fetched even if a URL were wrongly accepted (that shows as 401 instead of 500)."""
    h = make_httpd()
    for name, url in MS_TRICKS.items():
        h.add_location('htaccess', name, ['AuthType Bearer', 'B2CAuthMetadataURL ' + url,
                                          'B2CAuthAudience %s' % AUD, 'Require valid-user'])
    h.start()
    got = {name: h.at('htaccess', name).status for name in MS_TRICKS}
    assert got == {name: 500 for name in MS_TRICKS}, got


def test_allow_list_per_virtual_host(make_httpd, idp):
    """B2CAuthMetadataAllow in a <VirtualHost> governs that vhost's .htaccess files."""
    from conftest import free_port
    h = make_httpd(server_extra='B2CAuthMetadataAllow %s/' % idp.base)
    h.add_location('htaccess', 'api', RULES(idp))
    p2 = free_port()
    h.add_raw('Listen 127.0.0.1:%d\n<VirtualHost 127.0.0.1:%d>\n    DocumentRoot "%s/htdocs"\n'
              '    B2CAuthMetadataAllow http://127.0.0.2/\n</VirtualHost>' % (p2, p2, h.root))
    h.start()
    assert_ok(h.at('htaccess', 'api', idp.mint()))
    from conftest import http_request
    r = http_request(p2, h.path('htaccess', 'api'),
                     [('Authorization', 'Bearer ' + idp.mint())])
    assert r.status == 500, r


def test_allow_list_prefix_needs_a_path(make_httpd, idp):
    """A prefix without a path ("http://127.0.0.1:PORT") would let userinfo tricks such as
    http://127.0.0.1:PORT@other-host/ pass; the module refuses such prefixes."""
    h = make_httpd(server_extra='B2CAuthMetadataAllow %s' % idp.base)
    rc, out = h.check()
    assert rc == 1, out   # 1: config error (not a crash: -11)


def test_allow_list_dot_segments_do_not_escape_prefix(make_httpd, idp):
    """Hardening beyond the literal spec: a tenant-specific prefix must not be escaped with
    "/../" (libcurl removes dot segments before sending)."""
    other = idp.tenants[1].tid
    h = make_httpd(server_extra='B2CAuthMetadataAllow %s/%s/' % (idp.base, idp.tid))
    rules = RULES(idp)
    rules[1] = 'B2CAuthMetadataURL %s/%s/../%s/v2.0/.well-known/openid-configuration' % (
        idp.base, idp.tid, other)
    h.add_location('htaccess', 'api', rules)
    h.start()
    r = h.at('htaccess', 'api', idp.mint(tenant=idp.tenants[1]))
    assert r.status == 500, (r, idp.request_log[-3:])
    assert not [x for x in idp.request_log if other in x['path']], 'fetched outside the prefix'
