# SPDX-License-Identifier: Apache-2.0
"""mod_b2c_auth against a real httpd (shared instance, stateless checks).

Each rule of notes/auth-spec.md is exercised with the rules in a <Directory> of httpd.conf
('conf') and in .htaccess ('htaccess'), unless the rule only makes sense in one place.
"""

import json
import os
import re
import time

import pytest
from cryptography.hazmat.primitives import serialization

import idp as idpmod
from conftest import AUD, AUD_URI, MODULE_PATH, MODES, ROLE, TENANT2

QS = r'"(?:[^"\\]|\\.)*"'        # a quoted-string


def test_module_is_built():
    """CI must not go green without the module."""
    assert os.path.exists(MODULE_PATH), 'missing %s' % MODULE_PATH


def challenge(r):
    ch = r.www_authenticate
    assert len(ch) == 1, 'expected one WWW-Authenticate, got %r (status %s)' % (ch, r.status)
    return ch[0]


def assert_ok(r):
    assert r.status == 200, r
    assert r.body == 'Operation authorized', r
    assert not r.www_authenticate


def assert_error(r, status, error, realm='api'):
    assert r.status == status, r
    c = challenge(r)
    pat = r'Bearer realm="%s", error="%s", error_description=%s' % (re.escape(realm), error, QS)
    assert re.fullmatch(pat, c), 'challenge %r does not match %r' % (c, pat)


def assert_invalid_token(r):
    assert_error(r, 401, 'invalid_token')


mode = pytest.mark.parametrize('mode', MODES)


# ---------------------------------------------------------------- the basic contract

@mode
def test_valid_v2_token_with_role(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'role', shared_idp.mint('v2')))


@mode
def test_no_token_challenge(srv, mode):
    r = srv.at(mode, 'role')
    assert r.status == 401, r
    assert r.www_authenticate == ['Bearer realm="api"']


@mode
def test_non_bearer_scheme_is_like_no_token(srv, shared_idp, mode):
    r = srv.at(mode, 'role', headers={'Authorization': 'Basic dXNlcjpwYXNz'})
    assert r.status == 401 and r.www_authenticate == ['Bearer realm="api"'], r


@mode
def test_authname_is_realm(srv, shared_idp, mode):
    r = srv.at(mode, 'realm')
    assert r.status == 401 and r.www_authenticate == ['Bearer realm="orders api"'], r
    assert_error(srv.at(mode, 'realm', 'garbage'), 401, 'invalid_token', realm='orders api')


@mode
def test_role_missing_is_403_insufficient_scope(srv, shared_idp, mode):
    assert_error(srv.at(mode, 'role', shared_idp.mint(roles=['other'])), 403, 'insufficient_scope')
    assert_error(srv.at(mode, 'role', shared_idp.mint(roles=None)), 403, 'insufficient_scope')


@mode
def test_role_match_is_exact_and_case_sensitive(srv, shared_idp, mode):
    for roles in (['Access:Test-Api'], ['access:test-api '], ['access:test'], ['access:test-api2'],
                  'access:test-api x'):
        assert_error(srv.at(mode, 'role', shared_idp.mint(roles=roles)), 403, 'insufficient_scope')


@mode
@pytest.mark.parametrize('scheme', ['bearer', 'BEARER', 'BeArEr'])
def test_scheme_case_insensitive(srv, shared_idp, mode, scheme):
    assert_ok(srv.at(mode, 'role', shared_idp.mint(), scheme=scheme))


@mode
def test_token_in_query_or_form_not_accepted(srv, shared_idp, mode):
    from conftest import MINTED
    t = shared_idp.mint()
    MINTED.remove(t)        # it is in the request line, so in the access log by design
    r = srv.get(srv.path(mode, 'role') + '?access_token=' + t)
    assert r.status == 401 and r.www_authenticate == ['Bearer realm="api"'], r


@mode
def test_two_authorization_headers_400(srv, shared_idp, mode):
    t = shared_idp.mint()
    r = srv.at(mode, 'role', headers=[('Authorization', 'Bearer ' + t),
                                      ('Authorization', 'Bearer ' + t)])
    assert_error(r, 400, 'invalid_request')
    r = srv.at(mode, 'role', headers=[('Authorization', 'Basic dXNlcjpwYXNz'),
                                      ('Authorization', 'Bearer ' + t)])
    assert r.status in (400, 401) and r.status != 200, r


@mode
@pytest.mark.parametrize('value', ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a,b', 'Bearer {t} x',
                                   'Bearer {t},{t}', 'Bearer a"b', 'Bearer a%b', 'Bearer =abc'])
def test_malformed_authorization_400(srv, shared_idp, mode, value):
    r = srv.at(mode, 'role', headers={'Authorization': value.format(t=shared_idp.mint())})
    assert_error(r, 400, 'invalid_request')


# ---------------------------------------------------------------- invalid tokens

def _swap_sig(a, b):
    return a.rsplit('.', 1)[0] + '.' + b.rsplit('.', 1)[1]


def _tamper_payload(i, tok, **changes):
    h, p, s = tok.split('.')
    claims = json.loads(idpmod.b64u_decode(p))
    claims.update(changes)
    return h + '.' + idpmod._json_b64(claims) + '.' + s


def bad_tokens(i):
    now = int(time.time())
    good = i.mint()
    k = i.key()
    return {
        'bad_signature': _swap_sig(good, i.mint()),
        'signed_by_other_key_same_kid': i.mint(key=i.unpublished,
                                               header={'kid': k.kid, 'x5t': k.x5t}),
        'tampered_payload': _tamper_payload(i, good, roles=[ROLE, 'admin']),
        'tampered_exp': _tamper_payload(i, i.mint(lifetime=-1000), exp=now + 3600),
        'alg_none': i.mint(alg='none'),
        'alg_none_upper': i.mint_raw({'alg': 'NONE', 'kid': k.kid}, i.claims(), signature=b''),
        'alg_none_with_sig': i.mint_raw({'alg': 'none', 'kid': k.kid}, i.claims()) + 'AAAA',
        'hs256_public_key': i.mint(alg='HS256'),
        'hs256_public_der': i.mint(alg='HS256', hmac_key=k.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        'ps256_not_allowed': i.mint(alg='PS256'),
        'es256_alg_on_rsa_kid': i.mint_raw({'alg': 'ES256', 'kid': k.kid}, i.claims(),
                                           signature=b'\x01' * 64),
        'unknown_kid': i.mint(key=i.unpublished),
        'expired': i.mint(claims={'iat': now - 4000, 'nbf': now - 4000, 'exp': now - 400}),
        'nbf_future': i.mint(claims={'nbf': now + 600, 'exp': now + 4000}),
        'missing_exp': i.mint(drop=['exp']),
        'exp_string': i.mint(claims={'exp': str(now + 3600)}),
        'wrong_iss_tenant': i.mint(claims={'iss': 'https://login.microsoftonline.com/%s/v2.0'
                                           % TENANT2.tid}),
        'v1_iss_on_v2': i.mint(claims={'iss': i.issuer('v1', i.tenant)}),
        'iss_trailing_slash': i.mint(claims={'iss': i.issuer('v2', i.tenant) + '/'}),
        'missing_iss': i.mint(drop=['iss']),
        'wrong_aud': i.mint(aud='00000003-0000-0000-c000-000000000000'),
        'aud_case': i.mint(aud=AUD.upper()),
        'missing_aud': i.mint(drop=['aud']),
        'aud_array_foreign': i.mint(claims={'aud': ['x', 'y']}),
        'nonce_graph_token': i.mint(nonce=True, aud='00000003-0000-0000-c000-000000000000'),
        'nonce_token_our_aud': i.mint(nonce=True),
        'crit_unknown': i.mint(header={'crit': ['urn:example:unknown'], 'urn:example:unknown': 1}),
        'two_segments': good.rsplit('.', 1)[0],
        'four_segments': good + '.AAAA',
        'garbage': 'abc',
        'garbage_b64': 'eyJhbGciOiJSUzI1NiJ9.eyJ9.AAAA',
        'header_not_json': i.mint_raw(b'{"alg":"RS256","kid":"' + k.kid.encode() + b'"', i.claims()),
        'payload_not_json': i.mint_raw({'alg': 'RS256', 'kid': k.kid}, b'{"aud":'),
        'payload_array': i.mint_raw({'alg': 'RS256', 'kid': k.kid}, b'[1,2]'),
        'empty_signature': good.rsplit('.', 1)[0] + '.',
    }


BAD = sorted([
    'bad_signature', 'signed_by_other_key_same_kid', 'tampered_payload', 'tampered_exp',
    'alg_none', 'alg_none_upper', 'alg_none_with_sig', 'hs256_public_key', 'hs256_public_der',
    'ps256_not_allowed', 'es256_alg_on_rsa_kid', 'unknown_kid', 'expired',
    'nbf_future', 'missing_exp', 'exp_string', 'wrong_iss_tenant', 'v1_iss_on_v2',
    'iss_trailing_slash', 'missing_iss', 'wrong_aud', 'aud_case', 'missing_aud',
    'aud_array_foreign', 'nonce_graph_token', 'nonce_token_our_aud', 'crit_unknown',
    'two_segments', 'four_segments', 'garbage', 'garbage_b64', 'header_not_json',
    'payload_not_json', 'payload_array', 'empty_signature'])


@pytest.fixture(scope='module')
def bad(shared_idp):
    b = bad_tokens(shared_idp)
    assert sorted(b) == BAD
    return b


@mode
@pytest.mark.parametrize('case', BAD)
def test_invalid_token_401(srv, bad, mode, case):
    r = srv.at(mode, 'role', bad[case])
    assert_invalid_token(r)
    if len(bad[case]) > 20:
        assert bad[case] not in str(r.headers) + r.body, 'token echoed in the response'


@mode
@pytest.mark.parametrize('value', ['Bearerabc.def.ghi', 'Token {t}', 'MAC {t}', 'Basic'])
def test_other_schemes_plain_challenge(srv, shared_idp, mode, value):
    r = srv.at(mode, 'role', headers={'Authorization': value.format(t=shared_idp.mint())})
    assert r.status == 401 and r.www_authenticate == ['Bearer realm="api"'], r


@mode
def test_expired_within_skew_ok(srv, shared_idp, mode):
    now = int(time.time())
    assert_ok(srv.at(mode, 'role', shared_idp.mint(
        claims={'iat': now - 3700, 'nbf': now - 3700, 'exp': now - 60})))
    assert_ok(srv.at(mode, 'role', shared_idp.mint(claims={'nbf': now + 60})))


@mode
def test_clock_skew_zero(srv, shared_idp, mode):
    now = int(time.time())
    assert_invalid_token(srv.at(mode, 'skew0', shared_idp.mint(
        claims={'iat': now - 3700, 'nbf': now - 3700, 'exp': now - 30})))
    assert_invalid_token(srv.at(mode, 'skew0', shared_idp.mint(claims={'nbf': now + 60})))
    assert_ok(srv.at(mode, 'skew0', shared_idp.mint()))


# ---------------------------------------------------------------- issuers and audiences

@mode
def test_v1_token_v1_metadata(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'v1', shared_idp.mint('v1')))
    assert_ok(srv.at(mode, 'v1', shared_idp.mint('v1', aud=AUD)))
    assert_invalid_token(srv.at(mode, 'v1', shared_idp.mint('v2')))   # v2 issuer at a v1 site


@mode
def test_b2c_token_b2c_metadata(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'b2c_role', shared_idp.mint('b2c', roles=[ROLE])))
    assert_invalid_token(srv.at(mode, 'b2c_role', shared_idp.mint('v2')))
    assert_error(srv.at(mode, 'b2c_role', shared_idp.mint('b2c', roles=None, scp=ROLE)),
                 403, 'insufficient_scope')


@mode
def test_issuer_list(srv, shared_idp, mode):
    for kind in ('v1', 'v2', 'b2c'):
        assert_ok(srv.at(mode, 'issuers', shared_idp.mint(kind, aud=AUD)))
    other = idpmod.Tenant(TENANT2.tid, 'fabrikam')
    for kind in ('v1', 'v2', 'b2c'):
        assert_invalid_token(srv.at(mode, 'issuers', shared_idp.mint(
            kind, aud=AUD, claims={'iss': shared_idp.issuer(kind, other)})))


@mode
def test_common_tenantid_placeholder(srv, shared_idp, mode):
    i = shared_idp
    for tid in (i.tid, TENANT2.tid, '0f0e0d0c-0b0a-4909-8807-060504030201'):
        t = idpmod.Tenant(tid, 'x')
        assert_ok(srv.at(mode, 'common', i.mint(tenant=t)))
    # iss tenant must be the token's tid
    assert_invalid_token(srv.at(mode, 'common', i.mint(claims={'tid': TENANT2.tid})))
    # the literal template is not a valid issuer
    assert_invalid_token(srv.at(mode, 'common', i.mint(
        claims={'iss': 'https://login.microsoftonline.com/{tenantid}/v2.0'})))
    assert_invalid_token(srv.at(mode, 'common', i.mint(drop=['tid'])))


@mode
def test_issuer_directive_tenantid_placeholder(srv, shared_idp, mode):
    i = shared_idp
    for tid in (i.tid, '0f0e0d0c-0b0a-4909-8807-060504030201'):
        assert_ok(srv.at(mode, 'iss_template', i.mint(tenant=idpmod.Tenant(tid, 'x'))))
    assert_invalid_token(srv.at(mode, 'iss_template', i.mint(claims={'tid': TENANT2.tid})))
    assert_invalid_token(srv.at(mode, 'iss_template', i.mint('v1')))


@mode
def test_common_key_with_fixed_issuer_member(srv, shared_idp, mode):
    """A key whose JWKS "issuer" is fixed to one tenant signs only that tenant's tokens."""
    i = shared_idp
    own = idpmod.Tenant(i.fixed_tid, 'x')
    assert_ok(srv.at(mode, 'common', i.mint(tenant=own, key=i.fixed)))
    assert_invalid_token(srv.at(mode, 'common', i.mint(key=i.fixed)))


@mode
def test_audience_list(srv, shared_idp, mode):
    i = shared_idp
    assert_ok(srv.at(mode, 'role', i.mint(aud=AUD)))
    assert_ok(srv.at(mode, 'role', i.mint(aud=AUD_URI)))
    assert_ok(srv.at(mode, 'role', i.mint(claims={'aud': ['x', AUD_URI]})))
    assert_ok(srv.at(mode, 'aud_uri_only', i.mint(aud=AUD_URI)))
    assert_invalid_token(srv.at(mode, 'aud_uri_only', i.mint(aud=AUD)))


@mode
def test_algorithms(srv, shared_idp, mode):
    i = shared_idp
    assert_ok(srv.at(mode, 'ps256', i.mint(alg='PS256')))
    assert_invalid_token(srv.at(mode, 'ps256', i.mint()))
    assert_ok(srv.at(mode, 'es256', i.mint(tenant=TENANT2, key=i.ec)))
    assert_ok(srv.at(mode, 'es256', i.mint(tenant=TENANT2)))
    assert_invalid_token(srv.at(mode, 'role', i.mint(key=i.ec)))


# ---------------------------------------------------------------- authorization providers

@mode
def test_require_scope(srv, shared_idp, mode):
    i = shared_idp
    assert_ok(srv.at(mode, 'scope', i.mint(roles=None, scp=ROLE)))
    assert_ok(srv.at(mode, 'scope', i.mint(roles=None, scp='User.Read %s other' % ROLE)))
    for scp in ('access:test-api-x', 'User.Read', ''):
        assert_error(srv.at(mode, 'scope', i.mint(roles=None, scp=scp)), 403, 'insufficient_scope')
    # roles do not satisfy Require scope
    assert_error(srv.at(mode, 'scope', i.mint()), 403, 'insufficient_scope')


@mode
def test_b2c_client_credentials_token_scp(srv, shared_idp, mode):
    """B2C's own client-credentials tokens carry the app permissions in scp."""
    import requests
    r = requests.post(shared_idp.token_url('b2c'), timeout=10, data={
        'grant_type': 'client_credentials', 'client_id': idpmod.CLIENT_ID,
        'client_secret': idpmod.CLIENT_SECRET,
        'scope': 'https://contoso.onmicrosoft.com/%s/.default' % AUD})
    assert r.status_code == 200, r.text
    tok = r.json()['access_token']
    from conftest import MINTED
    MINTED.append(tok)
    assert_ok(srv.at(mode, 'b2c_scope', tok))
    assert_error(srv.at(mode, 'b2c_role', tok), 403, 'insufficient_scope')


@mode
def test_require_b2c_claim(srv, shared_idp, mode):
    i = shared_idp
    assert_ok(srv.at(mode, 'claim', i.mint()))
    assert_ok(srv.at(mode, 'claim', i.mint(claims={'azp': ['zzz', 'other-client-id']})))
    assert_error(srv.at(mode, 'claim', i.mint(client_id='someone-else')), 403, 'insufficient_scope')
    assert_error(srv.at(mode, 'claim', i.mint(drop=['azp'])), 403, 'insufficient_scope')
    assert_ok(srv.at(mode, 'claim_num', i.mint(claims={'level': 5})))
    assert_ok(srv.at(mode, 'claim_num', i.mint(claims={'level': '5'})))
    assert_error(srv.at(mode, 'claim_num', i.mint(claims={'level': 6})), 403, 'insufficient_scope')
    assert_ok(srv.at(mode, 'claim_bool', i.mint(claims={'flag': True})))
    assert_error(srv.at(mode, 'claim_bool', i.mint(claims={'flag': False})), 403,
                 'insufficient_scope')


@mode
def test_require_any_ip_grants_without_insufficient_scope(srv, shared_idp, mode):
    r = srv.at(mode, 'any_ip', shared_idp.mint(roles=['other']))
    assert_ok(r)
    assert 'insufficient_scope' not in str(r.headers)
    assert_ok(srv.at(mode, 'any_ip'))          # ip alone grants, no token needed


@mode
def test_require_any_other_branch(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'any_ip_other', shared_idp.mint()))
    assert_error(srv.at(mode, 'any_ip_other', shared_idp.mint(roles=['x'])), 403,
                 'insufficient_scope')
    assert srv.at(mode, 'any_ip_other').www_authenticate == ['Bearer realm="api"']


@mode
def test_require_all(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'all', shared_idp.mint(roles=['second', ROLE])))
    assert_error(srv.at(mode, 'all', shared_idp.mint(roles=[ROLE])), 403, 'insufficient_scope')
    assert_error(srv.at(mode, 'all', shared_idp.mint(roles=['second'])), 403, 'insufficient_scope')


@mode
def test_require_not_role(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'not_role', shared_idp.mint(roles=['x'])))
    assert_ok(srv.at(mode, 'not_role', shared_idp.mint(roles=None)))
    r = srv.at(mode, 'not_role', shared_idp.mint(roles=['x', 'blocked']))
    assert r.status == 403, r
    assert srv.at(mode, 'not_role').status == 401


@mode
def test_authtype_case_insensitive(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'lower_type', shared_idp.mint()))
    assert srv.at(mode, 'lower_type').www_authenticate == ['Bearer realm="api"']


@mode
def test_require_role_any_of_list(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'roles_any', shared_idp.mint(roles=['first-role'])))
    assert_ok(srv.at(mode, 'roles_any', shared_idp.mint(roles=['x', ROLE])))
    assert_error(srv.at(mode, 'roles_any', shared_idp.mint(roles=['x'])), 403, 'insufficient_scope')


@mode
def test_require_valid_user(srv, shared_idp, mode):
    assert_ok(srv.at(mode, 'valid_user', shared_idp.mint(roles=None)))
    assert_invalid_token(srv.at(mode, 'valid_user', shared_idp.mint(aud='nope')))


# ---------------------------------------------------------------- what the app sees

@mode
def test_claims_in_cgi_env(srv, shared_idp, mode):
    i = shared_idp
    tok = i.mint(roles=[ROLE, 'other'], claims={'ext.name-x': 'v', 'obj': {'a': 1},
                                                'num': 42, 'flag': True})
    claims = idpmod.decode_jwt(tok)[1]
    r = srv.at(mode, 'role', tok, file='env.cgi')
    assert r.status == 200, r
    env = r.env()
    assert env.get('REMOTE_USER') == claims['sub']
    assert env.get('B2C_CLAIM_roles') == ROLE + ',other'
    assert env.get('B2C_CLAIM_aud') == AUD
    assert env.get('B2C_CLAIM_tid') == i.tid
    assert env.get('B2C_CLAIM_iss') == claims['iss']
    assert env.get('B2C_CLAIM_azp') == idpmod.CLIENT_ID
    assert env.get('B2C_CLAIM_exp') == str(claims['exp'])
    assert env.get('B2C_CLAIM_ext_name_x') == 'v'
    assert env.get('B2C_CLAIM_obj') == '{"a":1}'
    assert env.get('B2C_CLAIM_num') == '42'
    assert env.get('B2C_CLAIM_flag') == 'true'
    assert not any(k.startswith('HTTP_X_B2C_CLAIM') for k in env), env
    assert env.get('AUTH_TYPE') == 'Bearer'


@mode
def test_remote_user_claim(srv, shared_idp, mode):
    tok = shared_idp.mint(claims={'oid': 'oid-123', 'sub': 'sub-456'})
    env = srv.at(mode, 'ru_oid', tok, file='env.cgi').env()
    assert env.get('REMOTE_USER') == 'oid-123'
    assert_invalid_token(srv.at(mode, 'ru_upn', shared_idp.mint()))
    env = srv.at(mode, 'ru_upn', shared_idp.mint(claims={'upn': 'svc@contoso.com'}),
                 file='env.cgi').env()
    assert env.get('REMOTE_USER') == 'svc@contoso.com'


@mode
def test_claims_env_off(srv, shared_idp, mode):
    r = srv.at(mode, 'env_off', shared_idp.mint(), file='env.cgi')
    assert r.status == 200, r
    env = r.env()
    assert not [k for k in env if k.startswith('B2C_CLAIM_')], env
    assert env.get('REMOTE_USER')


@mode
def test_claims_headers_visible_to_app(srv, shared_idp, mode):
    r = srv.at(mode, 'headers', shared_idp.mint(roles=[ROLE, 'b']), file='env.cgi',
               headers={'X-B2C-Claim-roles': 'admin', 'X-B2C-Claim-Evil': '1'})
    assert r.status == 200, r
    env = r.env()
    assert env.get('HTTP_X_B2C_CLAIM_ROLES') == ROLE + ',b'
    assert env.get('HTTP_X_B2C_CLAIM_TID') == shared_idp.tid
    assert 'HTTP_X_B2C_CLAIM_EVIL' not in env


@mode
def test_spoofed_claim_headers_and_env_removed(srv, shared_idp, mode):
    r = srv.at(mode, 'role', shared_idp.mint(), file='env.cgi',
               headers=[('X-B2C-Claim-roles', 'admin'), ('x-b2c-claim-oid', 'evil'),
                        ('X-B2C-CLAIM-New', 'x'), ('X-Test-Spoof', '1')])
    assert r.status == 200, r
    env = r.env()
    assert not [k for k in env if k.startswith('HTTP_X_B2C')], env
    assert 'B2C_CLAIM_injected' not in env, 'B2C_CLAIM_* set before authn must be removed'
    assert env.get('B2C_CLAIM_roles') == ROLE


@mode
@pytest.mark.parametrize('loc', ['any_ip', 'open'])
def test_spoofed_claims_removed_when_authn_not_run(srv, shared_idp, mode, loc):
    """Authz granted without authentication (Require ip / all granted): the spoofed
    headers and env must still be gone ("ALWAYS removed" in AuthType Bearer locations)."""
    spoof = [('X-B2C-Claim-roles', 'admin'), ('X-B2C-Claim-oid', 'evil'), ('X-Test-Spoof', '1')]
    for tok in (None, shared_idp.mint(roles=['other'])):
        r = srv.at(mode, loc, tok, file='env.cgi', headers=spoof)
        assert r.status == 200, r
        env = r.env()
        assert not [k for k in env if k.startswith('HTTP_X_B2C')], env
        assert 'B2C_CLAIM_injected' not in env, env


def _echo(r):
    assert r.status == 200, r
    return [(k.lower(), v) for k, v in json.loads(r.body)['headers']]


def test_claims_headers_forwarded_to_proxy_backend(srv, shared_idp):
    tok = shared_idp.mint(roles=[ROLE, 'x'])
    hdrs = _echo(srv.get('/proxied/anything', tok, headers=[
        ('X-B2C-Claim-roles', 'admin'), ('X_B2C_Claim_roles', 'admin2'),
        ('X-B2C-Claim-Evil', '1'), ('x_b2c_claim_evil2', '1')]))
    got = [(k, v) for k, v in hdrs if k.replace('_', '-').startswith('x-b2c-claim-')]
    assert ('x-b2c-claim-roles', ROLE + ',x') in got, got
    assert [v for k, v in got if k.replace('_', '-') == 'x-b2c-claim-roles'] == [ROLE + ',x'], got
    assert not [k for k, v in got if 'evil' in k], got
    assert ('x-b2c-claim-tid', shared_idp.tid) in got


def test_proxy_without_claims_headers_strips_spoofed(srv, shared_idp):
    hdrs = _echo(srv.get('/proxied_off/x', shared_idp.mint(), headers=[
        ('X-B2C-Claim-roles', 'admin'), ('X_B2C_Claim_roles', 'admin2'),
        ('x-b2c-claim-oid', 'evil')]))
    assert not [k for k, v in hdrs if k.replace('_', '-').startswith('x-b2c-claim-')], hdrs


def test_proxy_location_enforces_auth(srv, shared_idp):
    r = srv.get('/proxied/x')
    assert r.status == 401 and r.www_authenticate == ['Bearer realm="api"'], r
    assert_error(srv.get('/proxied/x', shared_idp.mint(roles=['n'])), 403, 'insufficient_scope')


# ---------------------------------------------------------------- shared hosting guard

def test_htaccess_metadata_not_under_allowed_prefix_500(srv, shared_idp):
    mark = srv.log_mark()
    r = srv.at('htaccess', 'bad_prefix', shared_idp.mint())
    assert r.status == 500, r
    log = srv.log_since(mark)
    assert 'B2CAuthMetadataURL' in log or 'B2CAuthMetadataAllow' in log, log[-2000:]
    assert srv.at('htaccess', 'bad_prefix').status == 500


def test_htaccess_missing_audience_500(srv, shared_idp):
    mark = srv.log_mark()
    r = srv.at('htaccess', 'no_aud', shared_idp.mint())
    assert r.status == 500, r
    assert 'B2CAuthAudience' in srv.log_since(mark)


def test_htaccess_missing_metadata_500(srv, shared_idp):
    mark = srv.log_mark()
    r = srv.at('htaccess', 'no_md', shared_idp.mint())
    assert r.status == 500, r
    assert 'B2CAuthMetadataURL' in srv.log_since(mark)


# ---------------------------------------------------------------- caching sanity

@mode
def test_cached_token_still_checked_per_location(srv, shared_idp, mode):
    """A token cached as valid at one location must still face another's aud/role rules."""
    tok = shared_idp.mint(aud=AUD)
    assert_ok(srv.at(mode, 'role', tok))
    assert_ok(srv.at(mode, 'role', tok))
    assert_invalid_token(srv.at(mode, 'aud_uri_only', tok))
    assert_error(srv.at(mode, 'all', tok), 403, 'insufficient_scope')
    assert_invalid_token(srv.at(mode, 'v1', tok))
    assert_invalid_token(srv.at(mode, 'ru_upn', tok))     # no upn claim for REMOTE_USER


@mode
def test_cached_token_rechecked_for_skew(srv, shared_idp, mode):
    now = int(time.time())
    tok = shared_idp.mint(claims={'iat': now - 3700, 'nbf': now - 3700, 'exp': now - 60})
    assert_ok(srv.at(mode, 'role', tok))           # within the default 300 s skew
    assert_invalid_token(srv.at(mode, 'skew0', tok))


@mode
def test_cached_token_rechecked_against_location_keys(srv, shared_idp, mode):
    """A token cached after verification with tenant 2's keys must not pass at a location
    whose JWKS (tenant 1) lacks that key, even when iss/aud/alg would fit there."""
    i = shared_idp
    tok = i.mint(tenant=TENANT2, key=i.ec)
    assert_ok(srv.at(mode, 'es256', tok))
    assert_invalid_token(srv.at(mode, 'es256_t1', tok))


@mode
def test_directory_index_subrequest(srv, shared_idp, mode):
    d = '/%s/role/' % srv.subdir(mode)
    assert srv.get(d).status == 401
    r = srv.get(d, shared_idp.mint())
    assert r.status == 200 and r.body == 'Operation authorized', r


def test_claim_values_cannot_inject_headers(srv, shared_idp):
    """Claim values come from the directory (B2C user attributes, custom policies): CR/LF in
    them must not create extra request headers towards the backend."""
    tok = shared_idp.mint(claims={'name': 'a\r\nX-Injected: 1', 'given\r\nX-Inj2': 'v',
                                  'city': 'Z\u00fcrich'})
    r = srv.get('/proxied/x', tok)
    assert r.status in (200, 401), r
    if r.status == 200:
        hdrs = _echo(r)
        assert not [k for k, v in hdrs if k in ('x-injected', 'x-inj2')], hdrs
        assert not [v for k, v in hdrs if '\n' in v or '\r' in v], hdrs
    assert srv.alive()


@mode
def test_deeply_nested_and_large_claims(srv, shared_idp, mode):
    i = shared_idp
    deep = i.mint_raw({'alg': 'RS256', 'kid': i.active_kid, 'typ': 'JWT'},
                      json.dumps(i.claims())[:-1].encode() + b',"deep":' + b'[' * 2100 +
                      b']' * 2100 + b'}')   # past jansson's depth limit, under 8 KB
    r = srv.at(mode, 'role', deep)
    assert r.status in (200, 401), r
    big = i.mint(roles=[ROLE] + ['role-%04d-%s' % (n, 'x' * 20) for n in range(100)])
    r = srv.at(mode, 'role', big, file='env.cgi')
    assert r.status == 200, r
    assert r.env().get('B2C_CLAIM_roles', '').startswith(ROLE + ',role-0000-')
    assert srv.alive()


def test_upper_case_metadata_scheme_is_fetched(make_httpd, shared_idp):
    """HTTP://... passes the config check, so the key fetch must take it too
    (it once refused it: every token then failed for want of keys)."""
    i = shared_idp
    url = i.metadata_url()
    assert url.startswith('http://')
    h = make_httpd()
    h.add_location('conf', 'upper', ['AuthType Bearer', 'B2CAuthMetadataURL HTTP://' + url[7:],
                                     'B2CAuthAudience %s' % AUD, 'Require role %s' % ROLE])
    h.start()
    assert_ok(h.at('conf', 'upper', i.mint('v2')))
    assert_invalid_token(h.at('conf', 'upper', i.mint('v2', aud='someone-else')))


def test_server_alive_and_no_crash(srv):
    assert srv.alive()
    log = srv.error_log()
    assert 'Segmentation fault' not in log and 'exit signal' not in log, log[-3000:]
