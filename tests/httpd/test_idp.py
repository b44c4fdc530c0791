# SPDX-License-Identifier: Apache-2.0
"""Self-tests of the test identity platform (tests/idp/idp.py); no httpd needed."""

import base64
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography import x509

import idp as idpmod
from idp import b64u, b64u_decode, decode_jwt

T = 10  # request timeout, seconds


def jget(url):
    r = requests.get(url, timeout=T)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    return r.json()


def rsa_public_from_jwk(k):
    n = int.from_bytes(b64u_decode(k['n']), 'big')
    e = int.from_bytes(b64u_decode(k['e']), 'big')
    return rsa.RSAPublicNumbers(e, n).public_key()


def test_discovery_v2_v1_b2c_common(idp):
    t = idp.tenant
    v2 = jget(idp.metadata_url('v2'))
    assert v2['issuer'] == 'https://login.microsoftonline.com/%s/v2.0' % t.tid
    assert v2['jwks_uri'] == '%s/%s/discovery/v2.0/keys' % (idp.base, t.tid)
    assert v2['token_endpoint'] == '%s/%s/oauth2/v2.0/token' % (idp.base, t.tid)
    assert 'private_key_jwt' in v2['token_endpoint_auth_methods_supported']
    v1 = jget(idp.metadata_url('v1'))
    assert v1['issuer'] == 'https://sts.windows.net/%s/' % t.tid
    assert v1['jwks_uri'] == '%s/%s/discovery/keys' % (idp.base, t.tid)
    assert v1['token_endpoint'] == '%s/%s/oauth2/token' % (idp.base, t.tid)
    b2c = jget(idp.metadata_url('b2c'))
    assert b2c['issuer'] == 'https://contoso.b2clogin.com/%s/v2.0/' % t.tid
    assert b2c['jwks_uri'].startswith(idp.base + '/contoso.onmicrosoft.com/')
    common = jget(idp.metadata_url('common'))
    assert common['issuer'] == 'https://login.microsoftonline.com/{tenantid}/v2.0'
    # tenant by name works as a path segment too
    assert jget('%s/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration'
                % idp.base)['issuer'] == v2['issuer']
    assert requests.get(idp.base + '/nosuchtenant/v2.0/.well-known/openid-configuration',
                        timeout=T).status_code == 404


def test_jwks_shape(idp):
    v2 = jget(jget(idp.metadata_url('v2'))['jwks_uri'])['keys']
    v1 = jget(jget(idp.metadata_url('v1'))['jwks_uri'])['keys']
    common = jget(jget(idp.metadata_url('common'))['jwks_uri'])['keys']
    k = v2[0]
    assert {'kty', 'use', 'kid', 'x5t', 'n', 'e', 'x5c', 'issuer'} <= set(k)
    assert k['kty'] == 'RSA' and k['use'] == 'sig' and k['e'] == 'AQAB'
    assert k['issuer'] == 'https://login.microsoftonline.com/{tenantid}/v2.0'
    assert 'issuer' not in v1[0]
    cert = x509.load_der_x509_certificate(base64.b64decode(k['x5c'][0]))
    assert b64u(cert.fingerprint(hashes.SHA1())) == k['x5t'] == k['kid']
    assert cert.public_key().public_numbers() == rsa_public_from_jwk(k).public_numbers()
    assert rsa_public_from_jwk(k).key_size == 2048
    # the unpublished key is nowhere; the EC key only in the second tenant
    kids = {x['kid'] for x in v2}
    assert idp.unpublished.kid not in kids and idp.ec.kid not in kids
    t2 = jget('%s/%s/discovery/v2.0/keys' % (idp.base, idp.tenants[1].tid))['keys']
    ec = [x for x in t2 if x['kid'] == idp.ec.kid][0]
    assert ec['kty'] == 'EC' and ec['crv'] == 'P-256' and len(b64u_decode(ec['x'])) == 32
    # common: ours + the 7 real Entra keys
    assert len(common) >= 8
    assert idp.fixed.kid in {x['kid'] for x in common}
    assert 'Mc7l3Iz93g7uwgNeEmmw_WYGPko' in {x['kid'] for x in common}


@pytest.mark.parametrize('kind', ['v2', 'v1', 'b2c'])
def test_minted_token_shape_and_signature(idp, kind):
    tok = idp.mint(kind)
    h, p, si, sig = decode_jwt(tok)
    assert h['alg'] == 'RS256' and h['kid'] == idp.active_kid
    assert ('x5t' in h) == (kind != 'b2c')
    jw = [k for k in jget(jget(idp.metadata_url(kind))['jwks_uri'])['keys']
          if k['kid'] == h['kid']][0]
    rsa_public_from_jwk(jw).verify(sig, si, padding.PKCS1v15(), hashes.SHA256())
    meta = jget(idp.metadata_url(kind))
    assert p['iss'] == meta['issuer']
    assert p['exp'] > time.time() > p['nbf'] - 5
    assert p['tid'] == idp.tid
    if kind == 'v2':
        assert p['ver'] == '2.0' and p['aud'] == idpmod.API_CLIENT_ID
        assert p['azp'] == idpmod.CLIENT_ID and p['roles'] == [idpmod.ROLE]
        assert {'aio', 'azpacr', 'idp', 'oid', 'rh', 'sub', 'uti'} <= set(p)
    if kind == 'v1':
        assert p['ver'] == '1.0' and p['appid'] == idpmod.CLIENT_ID
        assert p['aud'] == 'api://' + idpmod.API_CLIENT_ID


def test_mint_variants(idp):
    # claim overrides / deletion / drop
    p = decode_jwt(idp.mint(claims={'aud': 'x', 'uti': None}, drop=['exp']))[1]
    assert p['aud'] == 'x' and 'uti' not in p and 'exp' not in p
    # PS256, ES256 and HS256 confusion verify with what they claim
    for alg, key in (('PS256', None), ('ES256', idp.ec)):
        h, p, si, sig = decode_jwt(idp.mint(alg=alg, key=key))
        assert idpmod.verify(alg, (key or idp.key()).public_key, si, sig)
    tok = idp.mint(alg='HS256')
    assert idpmod.sign('HS256', None, tok.rsplit('.', 1)[0].encode(), idp.key().public_pem()) \
        == decode_jwt(tok)[3]
    # alg none: empty signature
    assert idp.mint(alg='none').endswith('.')
    # nonce token does not verify as sent
    tok = idp.mint(nonce=True)
    assert 'nonce' in decode_jwt(tok)[0]
    with pytest.raises(ValueError):
        idp.verify_token(tok)
    # raw
    raw = idp.mint_raw(b'{"alg":"RS256"', 'not json', signature=b'\x00' * 4)
    assert raw.count('.') == 2
    assert idp.verify_token(idp.mint_raw({'alg': 'RS256', 'kid': idp.active_kid}, {'a': 1}))['a'] == 1


def _token(idp, kind='v2', auth=None, **form):
    return requests.post(idp.token_url(kind), data=form, auth=auth, timeout=T)


def test_token_endpoint_secret_post_and_basic(idp):
    scope = 'api://%s/.default' % idpmod.API_CLIENT_ID
    r = _token(idp, grant_type='client_credentials', client_id=idpmod.CLIENT_ID,
               client_secret=idpmod.CLIENT_SECRET, scope=scope)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['token_type'] == 'Bearer' and j['expires_in'] == 3599 and j['ext_expires_in'] == 3599
    p = idp.verify_token(j['access_token'])
    assert p['roles'] == [idpmod.ROLE] and p['aud'] == idpmod.API_CLIENT_ID
    assert p['azp'] == idpmod.CLIENT_ID
    r = _token(idp, auth=(idpmod.CLIENT_ID, idpmod.CLIENT_SECRET),
               grant_type='client_credentials', scope=idpmod.API_CLIENT_ID + '/.default')
    assert r.status_code == 200, r.text
    assert idp.count('token') == 2
    assert idp.request_log[-1]['form'].get('client_secret') is None


def test_token_endpoint_b2c_scp_and_v1(idp):
    r = _token(idp, 'b2c', grant_type='client_credentials', client_id=idpmod.CLIENT_ID,
               client_secret=idpmod.CLIENT_SECRET,
               scope='https://contoso.onmicrosoft.com/%s/.default' % idpmod.API_CLIENT_ID)
    assert r.status_code == 200, r.text
    p = idp.verify_token(r.json()['access_token'])
    assert p['scp'] == idpmod.ROLE and 'roles' not in p
    assert p['iss'].startswith('https://contoso.b2clogin.com/')
    r = _token(idp, 'v1', grant_type='client_credentials', client_id=idpmod.CLIENT_ID,
               client_secret=idpmod.CLIENT_SECRET, resource='api://' + idpmod.API_CLIENT_ID)
    assert r.status_code == 200, r.text
    assert r.json()['expires_in'] == '3599'
    assert idp.verify_token(r.json()['access_token'])['ver'] == '1.0'


def _assert_entra_error(r, status, error, code):
    assert r.status_code == status, r.text
    j = r.json()
    assert j['error'] == error
    assert j['error_codes'] == [code]
    assert j['error_description'].startswith('AADSTS%d: ' % code)
    assert '\r\nTrace ID: ' in j['error_description']
    assert '\r\nCorrelation ID: ' in j['error_description']
    assert '\r\nTimestamp: ' in j['error_description']
    assert {'timestamp', 'trace_id', 'correlation_id', 'error_uri'} <= set(j)
    assert j['error_uri'].endswith('code=%d' % code)
    uuid.UUID(j['trace_id'])


def test_token_endpoint_errors(idp):
    scope = idpmod.API_CLIENT_ID + '/.default'
    ok = dict(grant_type='client_credentials', client_id=idpmod.CLIENT_ID,
              client_secret=idpmod.CLIENT_SECRET, scope=scope)
    _assert_entra_error(_token(idp, **dict(ok, client_secret='wrong')), 401, 'invalid_client', 7000215)
    assert 'client secret value, not the client secret ID' in \
        _token(idp, **dict(ok, client_secret='wrong')).json()['error_description']
    _assert_entra_error(_token(idp, **dict(ok, client_id=str(uuid.uuid4()))), 400,
                        'unauthorized_client', 700016)
    _assert_entra_error(_token(idp, **dict(ok, scope=idpmod.API_CLIENT_ID)), 400,
                        'invalid_scope', 70011)
    _assert_entra_error(_token(idp, **dict(ok, scope='api://nope/.default')), 400,
                        'invalid_resource', 500011)
    _assert_entra_error(_token(idp, **dict(ok, grant_type='password')), 400,
                        'unsupported_grant_type', 70003)
    no_scope = dict(ok)
    del no_scope['scope']
    _assert_entra_error(_token(idp, **no_scope), 400, 'invalid_request', 900144)
    no_secret = dict(ok)
    del no_secret['client_secret']
    _assert_entra_error(_token(idp, **no_secret), 401, 'invalid_client', 7000218)
    # correlation id echoed
    r = requests.post(idp.token_url(), data=dict(ok, client_secret='x'),
                      headers={'client-request-id': 'abc-123'}, timeout=T)
    assert r.json()['correlation_id'] == 'abc-123'


def _assertion(idp, key, cert, client_id, aud, **over):
    der = cert.public_bytes(serialization.Encoding.DER)
    now = int(time.time())
    h = {'alg': 'RS256', 'typ': 'JWT', 'x5t#S256': b64u(__import__('hashlib').sha256(der).digest())}
    p = {'aud': aud, 'iss': client_id, 'sub': client_id, 'jti': str(uuid.uuid4()),
         'nbf': now, 'exp': now + 600, 'iat': now}
    p.update(over)
    si = idpmod._json_b64(h) + '.' + idpmod._json_b64(p)
    return si + '.' + b64u(key.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256()))


def test_token_endpoint_private_key_jwt():
    key, cert = idpmod.make_client_certificate()
    cid = str(uuid.uuid4())
    with idpmod.TestIdP(clients=[idpmod.Client(cid, secret=None, cert=cert)]) as i:
        aud = i.token_url()
        a = _assertion(i, key, cert, cid, aud)
        form = dict(grant_type='client_credentials', client_id=cid,
                    client_assertion_type='urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                    client_assertion=a, scope=idpmod.API_CLIENT_ID + '/.default')
        r = requests.post(aud, data=form, timeout=T)
        assert r.status_code == 200, r.text
        assert i.verify_token(r.json()['access_token'])['azp'] == cid
        # replayed jti
        _assert_entra_error(requests.post(aud, data=form, timeout=T), 401, 'invalid_client', 7000229)
        # wrong audience, expired, signed by another key
        for bad in (_assertion(i, key, cert, cid, 'https://elsewhere/token'),
                    _assertion(i, key, cert, cid, aud, exp=int(time.time()) - 3600),
                    _assertion(i, idpmod.make_client_certificate()[0], cert, cid, aud)):
            r = requests.post(aud, data=dict(form, client_assertion=bad), timeout=T)
            assert r.status_code == 401 and r.json()['error'] == 'invalid_client', r.text


def test_faults_counters_and_control(idp):
    url = idp.metadata_url()
    idp.set_fault('metadata', 'status', status=429, retry_after=7, times=1)
    r = requests.get(url, timeout=T)
    assert r.status_code == 429 and r.headers['Retry-After'] == '7'
    assert requests.get(url, timeout=T).status_code == 200
    idp.set_fault('token', 'status', status=503, retry_after=3)
    r = requests.post(idp.token_url(), data={'grant_type': 'client_credentials'}, timeout=T)
    assert r.status_code == 503 and r.headers['Retry-After'] == '3' and r.json()['error_codes']
    idp.outage(True, 'close')
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=T)
    idp.outage(False)
    idp.set_fault('jwks', 'garbage')
    with pytest.raises(ValueError):
        requests.get(jget(url)['jwks_uri'], timeout=T).json()
    idp.set_fault('jwks', 'huge', size=3 * 1024 * 1024)
    assert len(requests.get(jget(url)['jwks_uri'], timeout=T).content) == 3 * 1024 * 1024
    idp.set_fault('metadata', 'delay', delay=0.5)
    t0 = time.monotonic()
    jget(url)
    assert time.monotonic() - t0 >= 0.5
    idp.clear_faults()
    assert idp.counts['metadata'] >= 5 and idp.counts['jwks'] == 2 and idp.counts['token'] == 1
    # HTTP control path
    c = requests.post(idp.base + '/_control/counters', json={}, timeout=T).json()
    assert c == idp.counts
    kid = requests.post(idp.base + '/_control/rotate', json={'keep_old': False}, timeout=T).json()['kid']
    keys = jget(jget(url)['jwks_uri'])['keys']
    assert [k['kid'] for k in keys] == [kid]
    tok = requests.post(idp.base + '/_control/mint', json={'kind': 'v2', 'roles': ['x']},
                        timeout=T).json()['access_token']
    assert idp.verify_token(tok)['roles'] == ['x'] and decode_jwt(tok)[0]['kid'] == kid
    requests.post(idp.base + '/_control/reset', json={}, timeout=T)
    assert idp.counts == {'metadata': 0, 'jwks': 0, 'token': 0}
    info = requests.get(idp.base + '/_control/info', timeout=T).json()
    assert info['metadata']['v2'] == url


def test_cli_serve(tmp_path):
    import subprocess, sys, os
    pf = tmp_path / 'url'
    p = subprocess.Popen([sys.executable, os.path.join(idpmod.HERE, 'idp.py'), 'serve',
                          '--port', '0', '--port-file', str(pf)], stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not pf.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        base = pf.read_text().strip()
        assert base.startswith('http://127.0.0.1:')
        info = requests.get(base + '/_control/info', timeout=T).json()
        assert jget(info['metadata']['v2'])['issuer'].endswith('/v2.0')
    finally:
        p.terminate()
        p.wait(10)


def test_https(tmp_path):
    ca, cert, key = idpmod.make_tls_files(str(tmp_path))
    with idpmod.TestIdP(tls=(cert, key)) as i:
        assert i.base.startswith('https://127.0.0.1:')
        r = requests.get(i.metadata_url(), verify=ca, timeout=T)
        assert r.status_code == 200 and r.json()['jwks_uri'].startswith('https://')
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(i.metadata_url(), timeout=T)      # not in the system store
