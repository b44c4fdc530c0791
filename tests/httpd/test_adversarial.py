# SPDX-License-Identifier: Apache-2.0
"""Adversarial bearer tokens and Authorization headers against mod_b2c_auth (issue part 3).

Written from the JWT attack literature: RFC 8725 (JWT BCP), the `none` and
algorithm-confusion families, key injection through jku/x5u/jwk/x5c/kid, ECDSA
zero signatures (CVE-2022-21449), `crit`, malformed NumericDates, duplicate JSON
members, non-canonical base64url, oversized and deeply nested inputs, and
Authorization header smuggling.

One table (CASES), one parametrized test per row, all against ONE httpd started
for this module (plus the session's shared IdP). Each row names:

  id        the pytest id
  loc       'rs'    tenant 1, B2CAuthAlgorithms RS256 (default), one RSA key in the JWKS
            'multi' tenant 2, B2CAuthAlgorithms RS256 PS256 ES256, an RSA and an EC P-256 key
  build     ctx -> what to send: a token string (sent as "Authorization: Bearer <token>"),
            {'headers': [(name, value), ...]} (sent with http.client), or
            {'raw': b'...'} (header lines sent verbatim on a raw socket, for CR/LF, NUL,
            non-ASCII and other bytes http.client refuses to send)
  expect    'ok'              200 "Operation authorized"
            'invalid_token'   401, WWW-Authenticate: Bearer realm="api", error="invalid_token", ...
            'invalid_request' 400, WWW-Authenticate: Bearer realm="api", error="invalid_request", ...
            'challenge'       401, WWW-Authenticate: Bearer realm="api" (no error: no Bearer token)
            'httpd_400'       400 from httpd itself, before mod_b2c_auth runs (no Bearer challenge)
  big       True: sent to a second listener whose virtual host raises LimitRequestFieldSize
            to 256 KB, so tokens over httpd's default 8190-byte header limit reach the module

Oversized tokens (docs/mod_b2c_auth.md, Responses): at the default LimitRequestFieldSize
(8190 bytes) httpd answers 400 itself ("Size of a request header field exceeds server
limit", no WWW-Authenticate) and the module never sees the token; with the limit raised,
the module refuses tokens over 16 KB with 401 invalid_token. Both are asserted.

Run: cd /work/main && /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/httpd/test_adversarial.py
"""

import base64
import http.client
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import idp as idpmod
from conftest import (AUD, AUD_URI, MINTED, ROLE, TENANT2, Httpd, Response, assert_no_tokens_in,
                      base_rules, free_port, http_request)

QS = r'"(?:[^"\\]|\\.)*"'
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
BIG_LIMIT = 262144
MAX_TOKEN = 16 * 1024

# every token this module sends, for the log check at the end
SENT = []


# ------------------------------------------------------------------------------ attacker

class _AttackerHandler(BaseHTTPRequestHandler):
    """An attacker's key server on loopback: jku/x5u targets. It must never be asked."""
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.seen.append(self.path)
        if self.path.endswith('.pem'):
            body, ctype = self.server.key.cert_pem(), 'application/x-pem-file'
        else:
            body = json.dumps({'keys': [self.server.key.jwk(), self.server.ec.jwk()]}).encode()
            ctype = 'application/json'
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_POST = do_GET


class Ctx:
    """What the case builders need: the IdP, the attacker's keys and server."""

    def __init__(self, i, attacker):
        self.i = i
        self.k = i.key()                     # the published RSA key (both tenants)
        self.ec = i.ec                       # the published EC P-256 key (tenant 2)
        self.atk = attacker.key              # attacker RSA key (never published)
        self.atk_ec = attacker.ec
        self.atk_url = 'http://127.0.0.1:%d' % attacker.server_address[1]

    # ---- claims and headers
    def claims(self, tenant=None, **over):
        c = self.i.claims('v2', tenant=tenant)
        for k, v in over.items():
            if v is DROP:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def header(self, key=None, **over):
        """{typ, alg, kid} of key (default: the published RSA key); over: members to set
        (any JSON value, None included) or DROP."""
        key = key or self.k
        h = {'typ': 'JWT', 'alg': key.alg, 'kid': key.kid}
        for k, v in over.items():
            if v is DROP:
                h.pop(k, None)
            else:
                h[k] = v
        return h

    # ---- tokens
    @staticmethod
    def jws(header, payload, key, alg=None, hmac_key=None):
        """header/payload: dict (compact JSON), str or bytes (verbatim); signed with key."""
        si = seg(header) + '.' + seg(payload)
        sig = idpmod.sign(alg or key.alg, key.private_key, si.encode(), hmac_key)
        return si + '.' + b64u(sig)

    def good(self, **over):
        """A valid token for loc 'rs' (claims overridable; DROP deletes)."""
        return self.jws(self.header(), self.claims(**over), self.k)

    def good_multi(self, key=None, alg=None, **over):
        key = key or self.k
        h = self.header(key, alg=alg) if alg else self.header(key)
        return self.jws(h, self.claims(TENANT2, **over), key, alg)

    def signed_rs(self, header, payload):
        return self.jws(header, payload, self.k, 'RS256')

    def es_parts(self):
        """A valid ES256 token for 'multi' split into (signing input, r, s)."""
        t = self.good_multi(key=self.ec)
        si, s64 = t.rsplit('.', 1)
        sig = idpmod.b64u_decode(s64)
        return si, int.from_bytes(sig[:32], 'big'), int.from_bytes(sig[32:], 'big')


DROP = object()


def b64u(b):
    return idpmod.b64u(b)


def seg(x):
    return idpmod._json_b64(x)


def with_sig(token, sig_bytes):
    return token.rsplit('.', 1)[0] + '.' + b64u(sig_bytes)


def es_token(ctx, r, s, size=32):
    si = ctx.es_parts()[0]
    return si + '.' + b64u(r.to_bytes(size, 'big') + s.to_bytes(size, 'big'))


def dup_json(first_pairs, obj):
    """JSON text of obj preceded by the members first_pairs (so names may repeat)."""
    head = ','.join('%s:%s' % (json.dumps(k), json.dumps(v)) for k, v in first_pairs)
    return '{' + head + ',' + json.dumps(obj, separators=(',', ':'))[1:]


def raw_json_claims(ctx, name, raw_value, tenant=None):
    """Claims JSON with member `name` set to the verbatim JSON text raw_value."""
    c = ctx.claims(tenant)
    c.pop(name, None)
    return json.dumps(c, separators=(',', ':'))[:-1] + ',"%s":%s}' % (name, raw_value)


def rs_sized(ctx, total):
    """A correctly signed 'rs' token of exactly `total` characters (padding claim)."""
    for hpad in range(0, 8):
        h = ctx.header(x='y' * hpad) if hpad else ctx.header()
        base = len(ctx.signed_rs(h, ctx.claims(pad='')))
        need = total - base                  # extra payload characters wanted
        n = (need * 3) // 4
        for extra in range(-3, 4):
            t = ctx.signed_rs(h, ctx.claims(pad='p' * max(0, n + extra)))
            if len(t) == total:
                return t
    raise AssertionError('cannot build a token of %d characters' % total)


def noncanonical_tail(s64):
    """The same bytes with the final base64url character's unused bits set (so a lenient
    decoder yields the same signature)."""
    alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    rest = len(s64) % 4
    assert rest in (2, 3)
    unused = 4 if rest == 2 else 2
    last = alphabet.index(s64[-1])
    assert last & ((1 << unused) - 1) == 0
    return s64[:-1] + alphabet[last | 1]


def std_b64_sig(token):
    """The signature segment in the standard base64 alphabet ('+' and '/'), unpadded;
    retried until the encoding actually differs from base64url."""
    si, s64 = token.rsplit('.', 1)
    std = base64.b64encode(idpmod.b64u_decode(s64)).decode().rstrip('=')
    assert std != s64, 'signature happens to need neither + nor /'
    return si + '.' + std


def hs(ctx, alg, secret):
    """An HMAC token with the RSA key's kid, for the algorithm-confusion family."""
    return ctx.jws(ctx.header(alg=alg), ctx.claims(), ctx.k, alg, hmac_key=secret)


def pem(ctx):
    return ctx.k.public_pem()


def der(ctx):
    return ctx.k.public_key.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def n_bytes(ctx):
    return ctx.k.public_key.public_numbers().n.to_bytes(256, 'big')


def bearer(tok):
    return {'headers': [('Authorization', 'Bearer ' + tok)]}


def raw(*lines):
    return {'raw': b''.join(l if isinstance(l, bytes) else l.encode('latin-1') for l in lines)}


def depth_bomb(ctx, opener, closer, depth):
    c = json.dumps(ctx.claims(), separators=(',', ':'))[:-1]
    return ctx.signed_rs(ctx.header(), c + ',"deep":' + opener * depth + '1' * (opener == '{"":')
                         + closer * depth + '}')


def now():
    return int(time.time())


# ------------------------------------------------------------------------------ the table

C = []


def case(id_, expect, build, loc='rs', big=False):
    C.append(pytest.param(loc, build, expect, big, id=id_))


# ---- controls: the same shapes, valid, pass (so a 401 below is the attack's doing)
case('control_valid_rs', 'ok', lambda c: c.good())
case('control_valid_ps256_multi', 'ok', lambda c: c.good_multi(alg='PS256'), 'multi')
case('control_valid_es256_multi', 'ok', lambda c: c.good_multi(key=c.ec), 'multi')
case('control_lowercase_scheme', 'ok', lambda c: {'headers': [('Authorization', 'bearer ' + c.good())]})
case('control_double_space_after_scheme', 'ok',
     lambda c: {'headers': [('Authorization', 'Bearer  ' + c.good())]})
case('control_typ_at_jwt', 'ok', lambda c: c.signed_rs(c.header(typ='at+jwt'), c.claims()))
case('control_typ_application_at_jwt', 'ok',
     lambda c: c.signed_rs(c.header(typ='application/at+jwt'), c.claims()))
case('control_typ_absent', 'ok', lambda c: c.signed_rs(c.header(typ=DROP), c.claims()))
case('control_exp_integral_float', 'ok',
     lambda c: c.signed_rs(c.header(), raw_json_claims(c, 'exp', '%d.0' % (now() + 3600))))
case('control_token_16384_bytes', 'ok', lambda c: rs_sized(c, MAX_TOKEN), big=True)
case('control_header_name_uppercase', 'ok',
     lambda c: raw('AUTHORIZATION: Bearer %s\r\n' % c.good()))

# ---- alg none, every spelling, with and without a signature
for spelling in ('none', 'None', 'NONE', 'nOnE'):
    case('alg_%s_empty_sig' % spelling, 'invalid_token',
         lambda c, a=spelling: seg(c.header(alg=a)) + '.' + seg(c.claims()) + '.')
    case('alg_%s_with_rs256_sig' % spelling, 'invalid_token',
         lambda c, a=spelling: c.jws(c.header(alg=a), c.claims(), c.k, 'RS256'))
case('alg_none_no_kid_empty_sig', 'invalid_token',
     lambda c: seg({'alg': 'none'}) + '.' + seg(c.claims()) + '.')
case('alg_none_sig_AA', 'invalid_token',
     lambda c: seg(c.header(alg='none')) + '.' + seg(c.claims()) + '.AA')

# ---- HMAC with the RSA public key as the secret (algorithm confusion)
for alg in ('HS256', 'HS384', 'HS512'):
    case('%s_secret_public_pem' % alg.lower(), 'invalid_token', lambda c, a=alg: hs(c, a, pem(c)))
    case('%s_secret_public_der' % alg.lower(), 'invalid_token', lambda c, a=alg: hs(c, a, der(c)))
case('hs256_secret_jwk_n_bytes', 'invalid_token', lambda c: hs(c, 'HS256', n_bytes(c)))
case('hs256_secret_jwk_n_b64url', 'invalid_token',
     lambda c: hs(c, 'HS256', c.k.jwk()['n'].encode()))
case('hs256_secret_pem_no_newline', 'invalid_token', lambda c: hs(c, 'HS256', pem(c).rstrip()))
case('hs256_secret_jwk_json', 'invalid_token',
     lambda c: hs(c, 'HS256', json.dumps(c.k.jwk()).encode()))
case('hs256_secret_x5c_cert_der', 'invalid_token',
     lambda c: hs(c, 'HS256', base64.b64decode(c.k.x5c)))

# ---- RS256 <-> PS256 <-> ES256 swaps
case('ps256_at_rs256_only_location', 'invalid_token',
     lambda c: c.jws(c.header(alg='PS256'), c.claims(), c.k, 'PS256'))
case('rs384_at_rs256_only_location', 'invalid_token',
     lambda c: c.jws(c.header(alg='RS384'), c.claims(), c.k, 'RS384'))
case('rs512_at_rs256_only_location', 'invalid_token',
     lambda c: c.jws(c.header(alg='RS512'), c.claims(), c.k, 'RS512'))
case('es256_alg_rsa_kid_at_rs256_only', 'invalid_token',
     lambda c: c.jws(c.header(alg='ES256'), c.claims(), c.ec, 'ES256'))
case('alg_ps256_but_pkcs1_signature', 'invalid_token',
     lambda c: c.jws(c.header(alg='PS256'), c.claims(TENANT2), c.k, 'RS256'), 'multi')
case('alg_rs256_but_pss_signature', 'invalid_token',
     lambda c: c.jws(c.header(alg='RS256'), c.claims(TENANT2), c.k, 'PS256'), 'multi')
case('alg_es256_rsa_kid_rsa_signature', 'invalid_token',
     lambda c: c.jws(c.header(alg='ES256'), c.claims(TENANT2), c.k, 'RS256'), 'multi')
case('alg_es256_rsa_kid_ec_signature', 'invalid_token',
     lambda c: c.jws(c.header(c.k, alg='ES256'), c.claims(TENANT2), c.ec, 'ES256'), 'multi')
case('alg_rs256_ec_kid_ec_signature', 'invalid_token',
     lambda c: c.jws(c.header(c.ec, alg='RS256'), c.claims(TENANT2), c.ec, 'ES256'), 'multi')
case('alg_ps256_ec_kid', 'invalid_token',
     lambda c: c.jws(c.header(c.ec, alg='PS256'), c.claims(TENANT2), c.k, 'PS256'), 'multi')
case('alg_es384_p256_key', 'invalid_token',
     lambda c: c.jws(c.header(c.ec, alg='ES384'), c.claims(TENANT2), c.ec, 'ES256'), 'multi')
case('alg_lowercase_rs256', 'invalid_token',
     lambda c: c.signed_rs(c.header(alg='rs256'), c.claims()))
case('alg_trailing_space', 'invalid_token',
     lambda c: c.signed_rs(c.header(alg='RS256 '), c.claims()))
case('alg_fullwidth_digit_homoglyph', 'invalid_token',
     lambda c: c.signed_rs(c.header(alg='RS\uff12\uff15\uff16'), c.claims()))

# ---- alg missing / not a string / empty
case('alg_missing', 'invalid_token', lambda c: c.signed_rs(c.header(alg=DROP), c.claims()))
case('alg_empty', 'invalid_token', lambda c: c.signed_rs(c.header(alg=''), c.claims()))
case('alg_null', 'invalid_token', lambda c: c.signed_rs(c.header(alg=None), c.claims()))
case('alg_number', 'invalid_token', lambda c: c.signed_rs(c.header(alg=256), c.claims()))
case('alg_array', 'invalid_token', lambda c: c.signed_rs(c.header(alg=['RS256']), c.claims()))
case('alg_object', 'invalid_token',
     lambda c: c.signed_rs(c.header(alg={'name': 'RS256'}), c.claims()))
case('alg_bool', 'invalid_token', lambda c: c.signed_rs(c.header(alg=True), c.claims()))
case('alg_with_nul_escape', 'invalid_token',
     lambda c: c.signed_rs('{"typ":"JWT","alg":"RS256\\u0000","kid":"%s"}' % c.k.kid, c.claims()))

# ---- kid
case('kid_of_ec_key_rsa_signature', 'invalid_token',
     lambda c: c.jws(c.header(c.ec, alg='RS256'), c.claims(TENANT2), c.k, 'RS256'), 'multi')
case('kid_of_key_published_only_on_common', 'invalid_token',
     lambda c: c.jws(c.header(c.i.fixed), c.claims(), c.i.fixed, 'RS256'))
case('kid_missing_multi_key_jwks', 'invalid_token',
     lambda c: c.jws(c.header(kid=DROP), c.claims(TENANT2), c.k, 'RS256'), 'multi')
case('kid_missing_x5t_of_published_key_multi', 'invalid_token',
     lambda c: c.jws(c.header(kid=DROP, x5t=c.k.x5t), c.claims(TENANT2), c.k, 'RS256'), 'multi')
case('kid_path_traversal', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid='../../../../../../etc/passwd'), c.claims()))
case('kid_dev_null', 'invalid_token', lambda c: c.signed_rs(c.header(kid='/dev/null'), c.claims()))
case('kid_sql_injection', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid="x' OR '1'='1' -- "), c.claims()))
case('kid_command_injection', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid='$(touch /tmp/b2c-pwned)|id;`id`'), c.claims()))
case('kid_crlf_and_format', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid='a\r\nB2C01001: forged %s%n%x'), c.claims()))
case('kid_null', 'invalid_token', lambda c: c.signed_rs(c.header(kid=None), c.claims()))
case('kid_number', 'invalid_token', lambda c: c.signed_rs(c.header(kid=12345), c.claims()))
case('kid_array_with_real_kid', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid=[c.k.kid]), c.claims()))
case('kid_empty', 'invalid_token', lambda c: c.signed_rs(c.header(kid=''), c.claims()))
case('kid_real_plus_space', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid=c.k.kid + ' '), c.claims()))
case('kid_real_other_case', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid=c.k.kid.swapcase()), c.claims()))
case('kid_real_nul_suffix', 'invalid_token',
     lambda c: c.signed_rs('{"typ":"JWT","alg":"RS256","kid":"%s\\u0000x"}' % c.k.kid, c.claims()))
case('kid_4k', 'invalid_token', lambda c: c.signed_rs(c.header(kid='K' * 4000), c.claims()))
case('kid_12k_big_listener', 'invalid_token',
     lambda c: c.signed_rs(c.header(kid='K' * 9000), c.claims()), big=True)

# ---- key injection: jku / x5u / jwk / x5c (the attacker's server must get no request)
case('jku_attacker_attacker_kid', 'invalid_token',
     lambda c: c.jws(c.header(c.atk, jku=c.atk_url + '/jwks.json'), c.claims(), c.atk))
case('jku_attacker_real_kid', 'invalid_token',
     lambda c: c.jws(c.header(jku=c.atk_url + '/jwks.json'), c.claims(), c.atk, 'RS256'))
case('jku_attacker_ec_key', 'invalid_token',
     lambda c: c.jws(c.header(c.atk_ec, jku=c.atk_url + '/jwks.json'), c.claims(TENANT2),
                     c.atk_ec), 'multi')
case('jku_legit_idp_jwks_attacker_sig', 'invalid_token',
     lambda c: c.jws(c.header(c.atk, jku=c.i.base + '/%s/discovery/v2.0/keys' % c.i.tid),
                     c.claims(), c.atk))
case('x5u_attacker_cert', 'invalid_token',
     lambda c: c.jws(c.header(c.atk, x5u=c.atk_url + '/cert.pem'), c.claims(), c.atk))
case('x5u_attacker_real_kid', 'invalid_token',
     lambda c: c.jws(c.header(x5u=c.atk_url + '/cert.pem'), c.claims(), c.atk, 'RS256'))
case('jwk_embedded_attacker_key', 'invalid_token',
     lambda c: c.jws(c.header(c.atk, jwk=c.atk.jwk(issuer_member=False)), c.claims(), c.atk))
case('jwk_embedded_attacker_key_real_kid', 'invalid_token',
     lambda c: c.jws(c.header(jwk=dict(c.atk.jwk(issuer_member=False), kid=c.k.kid)),
                     c.claims(), c.atk, 'RS256'))
case('jwk_embedded_no_kid', 'invalid_token',
     lambda c: c.jws(c.header(kid=DROP, jwk=c.atk.jwk(issuer_member=False)), c.claims(), c.atk,
                     'RS256'))
case('jwk_embedded_ec_attacker_key', 'invalid_token',
     lambda c: c.jws(c.header(c.atk_ec, jwk=c.atk_ec.jwk(issuer_member=False)),
                     c.claims(TENANT2), c.atk_ec), 'multi')
case('x5c_attacker_cert', 'invalid_token',
     lambda c: c.jws(c.header(c.atk, x5c=[c.atk.x5c]), c.claims(), c.atk))
case('x5c_attacker_cert_real_kid_and_x5t', 'invalid_token',
     lambda c: c.jws(c.header(x5c=[c.atk.x5c], x5t=c.k.x5t), c.claims(), c.atk, 'RS256'))
case('jku_x5u_on_valid_token_are_ignored', 'ok',
     lambda c: c.signed_rs(c.header(jku=c.atk_url + '/ignored.json', x5u=c.atk_url + '/i.pem'),
                           c.claims()))

# ---- ECDSA signatures (CVE-2022-21449 "psychic signatures" and friends), loc 'multi'
case('ecdsa_all_zero', 'invalid_token', lambda c: es_token(c, 0, 0), 'multi')
case('ecdsa_r_zero', 'invalid_token', lambda c: es_token(c, 0, c.es_parts()[2]), 'multi')
case('ecdsa_s_zero', 'invalid_token', lambda c: es_token(c, c.es_parts()[1], 0), 'multi')
case('ecdsa_r_s_equal_n', 'invalid_token', lambda c: es_token(c, P256_N, P256_N), 'multi')
case('ecdsa_r_equal_n', 'invalid_token', lambda c: es_token(c, P256_N, c.es_parts()[2]), 'multi')
case('ecdsa_s_equal_n', 'invalid_token', lambda c: es_token(c, c.es_parts()[1], P256_N), 'multi')
case('ecdsa_r_plus_n', 'invalid_token',
     lambda c: (lambda si, r, s: si + '.' + b64u((r + P256_N).to_bytes(33, 'big')
                                                 + s.to_bytes(32, 'big')))(*c.es_parts()), 'multi')
case('ecdsa_all_ff', 'invalid_token',
     lambda c: with_sig(c.good_multi(key=c.ec), b'\xff' * 64), 'multi')
case('ecdsa_r_s_one', 'invalid_token', lambda c: es_token(c, 1, 1), 'multi')
case('ecdsa_swapped_r_s', 'invalid_token',
     lambda c: (lambda si, r, s: es_token(c, s, r))(*c.es_parts()), 'multi')
case('ecdsa_63_bytes', 'invalid_token',
     lambda c: (lambda t: with_sig(t, idpmod.b64u_decode(t.rsplit('.', 1)[1])[:63]))(
         c.good_multi(key=c.ec)), 'multi')
case('ecdsa_65_bytes', 'invalid_token',
     lambda c: (lambda t: with_sig(t, idpmod.b64u_decode(t.rsplit('.', 1)[1]) + b'\x00'))(
         c.good_multi(key=c.ec)), 'multi')
case('ecdsa_132_bytes_es512_length', 'invalid_token',
     lambda c: with_sig(c.good_multi(key=c.ec), b'\x00' * 66 + b'\x01' * 66), 'multi')
case('ecdsa_der_encoded', 'invalid_token',
     lambda c: (lambda si, r, s: si + '.' + b64u(encode_dss_signature(r, s)))(*c.es_parts()),
     'multi')
case('ecdsa_empty_signature', 'invalid_token',
     lambda c: c.good_multi(key=c.ec).rsplit('.', 1)[0] + '.', 'multi')

# ---- RSA signature shapes
case('rsa_sig_all_zero', 'invalid_token', lambda c: with_sig(c.good(), b'\x00' * 256))
case('rsa_sig_one', 'invalid_token', lambda c: with_sig(c.good(), (1).to_bytes(256, 'big')))
case('rsa_sig_equal_modulus', 'invalid_token', lambda c: with_sig(c.good(), n_bytes(c)))
case('rsa_sig_truncated_255', 'invalid_token',
     lambda c: (lambda t: with_sig(t, idpmod.b64u_decode(t.rsplit('.', 1)[1])[1:]))(c.good()))
case('rsa_sig_zero_prefixed_257', 'invalid_token',
     lambda c: (lambda t: with_sig(t, b'\x00' + idpmod.b64u_decode(t.rsplit('.', 1)[1])))(c.good()))

# ---- crit
case('crit_unknown_member_absent', 'invalid_token',
     lambda c: c.signed_rs(c.header(crit=['urn:example:nope']), c.claims()))
case('crit_registered_name_exp', 'invalid_token',
     lambda c: c.signed_rs(c.header(crit=['exp'], exp=now() + 3600), c.claims()))
case('crit_b64_false', 'invalid_token',
     lambda c: c.signed_rs(c.header(crit=['b64'], b64=False), c.claims()))
case('crit_empty_array', 'invalid_token', lambda c: c.signed_rs(c.header(crit=[]), c.claims()))
case('crit_string_not_array', 'invalid_token',
     lambda c: c.signed_rs(c.header(crit='exp'), c.claims()))
case('crit_null', 'invalid_token', lambda c: c.signed_rs(c.header(crit=None), c.claims()))

# ---- time claims: every malformed NumericDate, missing exp, nbf beyond the skew
BAD_DATES = {
    'string': lambda: json.dumps(str(now() + 3600)),
    'float_fraction': lambda: '%d.5' % (now() + 3600),
    'negative': lambda: '-1',
    'huge_1e300': lambda: '1e300',
    'int_2_63_minus_1': lambda: '9223372036854775807',
    'int_2_63': lambda: '9223372036854775808',
    'int_2_53_plus_1': lambda: '9007199254740993',
    'null': lambda: 'null',
    'true': lambda: 'true',
    'array': lambda: '[%d]' % (now() + 3600),
    'object': lambda: '{"t":%d}' % (now() + 3600),
    'nan_literal': lambda: 'NaN',
    'infinity_literal': lambda: 'Infinity',
}
for name, val in BAD_DATES.items():
    case('exp_%s' % name, 'invalid_token',
         lambda c, v=val: c.signed_rs(c.header(), raw_json_claims(c, 'exp', v())))
for name in ('string', 'float_fraction', 'huge_1e300', 'null', 'true', 'array'):
    case('nbf_%s' % name, 'invalid_token',
         lambda c, v=BAD_DATES[name]: c.signed_rs(c.header(), raw_json_claims(c, 'nbf', v())))
for name in ('string', 'null', 'array', 'huge_1e300'):
    case('iat_%s' % name, 'invalid_token',
         lambda c, v=BAD_DATES[name]: c.signed_rs(c.header(), raw_json_claims(c, 'iat', v())))
case('exp_missing', 'invalid_token', lambda c: c.good(exp=DROP))
case('exp_past_beyond_skew', 'invalid_token', lambda c: c.good(exp=now() - 400))
case('nbf_future_beyond_skew', 'invalid_token', lambda c: c.good(nbf=now() + 400))

# ---- duplicate members (a signer and a verifier might each read a different one)
case('dup_header_alg_none_then_rs256', 'invalid_token',
     lambda c: c.signed_rs(dup_json([('alg', 'none')], c.header()), c.claims()))
case('dup_header_kid', 'invalid_token',
     lambda c: c.signed_rs(dup_json([('kid', 'attacker-kid')], c.header()), c.claims()))
case('dup_payload_aud_wrong_then_right', 'invalid_token',
     lambda c: c.signed_rs(c.header(), dup_json([('aud', 'other-api')], c.claims())))
case('dup_payload_exp_expired_then_valid', 'invalid_token',
     lambda c: c.signed_rs(c.header(), dup_json([('exp', now() - 9999)], c.claims())))
case('dup_payload_roles', 'invalid_token',
     lambda c: c.signed_rs(c.header(), dup_json([('roles', ['admin'])], c.claims())))
case('dup_payload_iss', 'invalid_token',
     lambda c: c.signed_rs(c.header(), dup_json([('iss', 'https://evil.example/')], c.claims())))
case('dup_payload_aud_unicode_escape', 'invalid_token',
     lambda c: c.signed_rs(c.header(), '{"a\\u0075d":"other-api",'
                           + json.dumps(c.claims(), separators=(',', ':'))[1:]))

# ---- iss / aud
case('iss_uppercase_host', 'invalid_token',
     lambda c: c.good(iss='https://LOGIN.MICROSOFTONLINE.COM/%s/v2.0' % c.i.tid))
case('iss_array_with_right_value', 'invalid_token',
     lambda c: c.good(iss=[c.i.issuer('v2', c.i.tenant)]))
case('iss_null', 'invalid_token', lambda c: c.good(iss=None))
case('iss_number', 'invalid_token', lambda c: c.good(iss=1))
case('iss_empty', 'invalid_token', lambda c: c.good(iss=''))
case('iss_trailing_whitespace', 'invalid_token',
     lambda c: c.good(iss=c.i.issuer('v2', c.i.tenant) + ' '))
case('iss_other_tenant_same_tid', 'invalid_token',
     lambda c: c.good(iss=c.i.issuer('v2', TENANT2)))
case('aud_array_wrong_only', 'invalid_token', lambda c: c.good(aud=['other-api']))
case('aud_empty_array', 'invalid_token', lambda c: c.good(aud=[]))
case('aud_null', 'invalid_token', lambda c: c.good(aud=None))
case('aud_number', 'invalid_token', lambda c: c.good(aud=8))
case('aud_nested_array_with_right_value', 'invalid_token', lambda c: c.good(aud=[[AUD]]))
case('aud_right_value_plus_non_string', 'invalid_token', lambda c: c.good(aud=[AUD, 5]))
case('aud_object_with_right_value', 'invalid_token', lambda c: c.good(aud={'aud': AUD}))
case('aud_trailing_slash', 'invalid_token', lambda c: c.good(aud=AUD_URI + '/'))
case('aud_trailing_space', 'invalid_token', lambda c: c.good(aud=AUD + ' '))
case('aud_empty_string', 'invalid_token', lambda c: c.good(aud=''))

# ---- typ (RFC 8725 §3.11 explicit typing)
for typ in ('JWE', 'JOSE', 'JOSE+JSON', 'dpop+jwt', 'secevent+jwt', 'logout+jwt', '', 'JWT '):
    case('typ_%s' % (re.sub(r'\W', '_', typ) or 'empty'), 'invalid_token',
         lambda c, t=typ: c.signed_rs(c.header(typ=t), c.claims()))
case('typ_null', 'invalid_token', lambda c: c.signed_rs(c.header(typ=None), c.claims()))
case('typ_number', 'invalid_token', lambda c: c.signed_rs(c.header(typ=1), c.claims()))

# ---- structure and encoding
case('segments_5_jwe_shaped', 'invalid_token', lambda c: c.good() + '.AAAA.AAAA')
case('segments_4', 'invalid_token',
     lambda c: (lambda t: t.rsplit('.', 1)[0] + '.' + t.rsplit('.', 1)[0].split('.')[1] + '.'
                + t.rsplit('.', 1)[1])(c.good()))
case('trailing_dot', 'invalid_token', lambda c: c.good() + '.')
case('leading_dot', 'invalid_token', lambda c: '.' + c.good())
case('empty_header_segment', 'invalid_token', lambda c: '.' + c.good().split('.', 1)[1])
case('empty_payload_segment', 'invalid_token',
     lambda c: (lambda h, p, s: h + '..' + s)(*c.good().split('.')))
case('only_dots', 'invalid_token', lambda c: '..')
case('padding_eq_inside_token', 'invalid_request',
     lambda c: (lambda h, p, s: h + '=.' + p + '.' + s)(*c.good().split('.')))
case('padding_eq_on_signature', 'invalid_token', lambda c: c.good() + '==')
case('std_base64_alphabet_signature', 'invalid_token',
     lambda c: std_b64_sig(c.good()))
case('noncanonical_base64url_tail', 'invalid_token',
     lambda c: (lambda t: t.rsplit('.', 1)[0] + '.' + noncanonical_tail(t.rsplit('.', 1)[1]))(
         c.good()))
case('header_utf8_bom', 'invalid_token',
     lambda c: c.signed_rs(b'\xef\xbb\xbf' + json.dumps(c.header()).encode(), c.claims()))
case('header_trailing_garbage', 'invalid_token',
     lambda c: c.signed_rs(json.dumps(c.header()) + ' x', c.claims()))
case('header_json_array', 'invalid_token', lambda c: c.signed_rs('[{"alg":"RS256"}]', c.claims()))
case('payload_empty_object', 'invalid_token', lambda c: c.signed_rs(c.header(), '{}'))
case('payload_invalid_utf8', 'invalid_token',
     lambda c: c.signed_rs(c.header(), json.dumps(c.claims())[:-1].encode() + b',"x":"\xff\xfe"}'))
case('whitespace_inside_token', 'invalid_request',
     lambda c: (lambda h, p, s: h + '.' + p + ' .' + s)(*c.good().split('.')))
case('unicode_in_token_bytes', 'invalid_request',
     lambda c: raw(b'Authorization: Bearer ' + c.good().encode()[:40] + '\u00e9'.encode()
                   + c.good().encode()[40:] + b'\r\n'))

# ---- oversized (see the module docstring for who answers what)
case('token_16385_bytes', 'invalid_token', lambda c: rs_sized(c, MAX_TOKEN + 1), big=True)
case('token_20k_module', 'invalid_token', lambda c: rs_sized(c, 20 * 1024), big=True)
case('token_100k_module', 'invalid_token', lambda c: rs_sized(c, 100 * 1024), big=True)
case('token_20k_default_header_limit', 'httpd_400', lambda c: rs_sized(c, 20 * 1024))
case('token_100k_default_header_limit', 'httpd_400', lambda c: rs_sized(c, 100 * 1024))
case('depth_bomb_arrays_5000', 'invalid_token', lambda c: depth_bomb(c, '[', ']', 5000), big=True)
case('depth_bomb_objects_2100', 'invalid_token',
     lambda c: depth_bomb(c, '{"":', '}', 2100), big=True)
case('claims_10000', 'invalid_token',
     lambda c: c.signed_rs(c.header(), dict(c.claims(), **{'c%d' % n: 0 for n in range(10000)})),
     big=True)
case('claims_700_within_16k', 'ok',
     lambda c: c.signed_rs(c.header(), dict(c.claims(), **{'c%d' % n: 0 for n in range(700)})),
     big=True)

# ---- header smuggling
case('two_authorization_headers_valid_then_forged', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Bearer ' + c.good()),
                            ('Authorization', 'Bearer ' + c.jws(c.header(), c.claims(), c.atk,
                                                                'RS256'))]})
case('two_authorization_headers_basic_then_bearer', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Basic dXNlcjpwYXNz'),
                            ('Authorization', 'Bearer ' + c.good())]})
case('two_authorization_headers_bearer_then_basic', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Bearer ' + c.good()),
                            ('Authorization', 'Basic dXNlcjpwYXNz')]})
case('authorization_empty_then_bearer', 'invalid_request',
     lambda c: raw('Authorization:\r\n', 'Authorization: Bearer %s\r\n' % c.good()))
case('bearer_tab_separator', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Bearer\t' + c.good())]})
case('bearer_glued_to_token', 'challenge',
     lambda c: {'headers': [('Authorization', 'Bearer' + c.good())]})
case('bearer_colon_separator', 'challenge',
     lambda c: {'headers': [('Authorization', 'Bearer:' + c.good())]})
case('token_trailing_comma', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Bearer ' + c.good() + ',')]})
case('token_with_auth_param', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Bearer ' + c.good() + ', realm="x"')]})
case('basic_and_bearer_in_one_value', 'invalid_request',
     lambda c: {'headers': [('Authorization', 'Bearer %s Basic dXNlcjpwYXNz' % c.good())]})
case('proxy_authorization_only', 'challenge',
     lambda c: {'headers': [('Proxy-Authorization', 'Bearer ' + c.good())]})
case('space_before_colon', 'httpd_400',
     lambda c: raw('Authorization : Bearer %s\r\n' % c.good()))
# httpd (HttpProtocolOptions Strict too) unfolds obs-fold into one space: the module then
# sees "Bearer <forged> <valid>" and refuses it as malformed
case('obs_fold_continuation', 'invalid_request',
     lambda c: raw('Authorization: Bearer %s\r\n' % c.jws(c.header(), c.claims(), c.atk, 'RS256'),
                   ' %s\r\n' % c.good()))
case('bare_lf_injects_second_authorization', 'httpd_400',
     lambda c: raw('Authorization: Bearer %s\nAuthorization: Bearer %s\r\n'
                   % (c.jws(c.header(), c.claims(), c.atk, 'RS256'), c.good())))
case('bare_cr_inside_value', 'httpd_400',
     lambda c: raw('Authorization: Bearer %s\rX-Injected: 1\r\n' % c.good()))
case('nul_inside_value', 'httpd_400',
     lambda c: raw(b'Authorization: Bearer ' + c.good().encode() + b'\x00garbage\r\n'))
case('ctl_char_inside_value', 'httpd_400',
     lambda c: raw(b'Authorization: Bearer ' + c.good().encode()[:50] + b'\x01'
                   + c.good().encode()[50:] + b'\r\n'))


CASE_IDS = [p.id for p in C]


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope='module')
def attacker():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), _AttackerHandler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.seen = []
    srv.key = idpmod.SigningKey()
    srv.ec = idpmod.SigningKey('EC')
    t = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope='module')
def adv(shared_idp, workdir):
    """The one httpd of this module: loc 'rs' and 'multi' (in httpd.conf <Directory>), on the
    default listener (httpd's default LimitRequestFieldSize) and on a second listener whose
    virtual host raises LimitRequestFieldSize to 256 KB."""
    i = shared_idp
    h = Httpd(workdir, 'adversarial',
              server_extra='B2CAuthMetadataAllow %s/' % i.base)
    h.add_location('conf', 'rs', base_rules(i) + ['Require role %s' % ROLE])
    h.add_location('conf', 'multi', base_rules(i, tenant=TENANT2) + [
        'B2CAuthAlgorithms RS256 PS256 ES256', 'Require role %s' % ROLE])
    h.big_port = free_port()
    h.add_raw('Listen 127.0.0.1:{p}\n<VirtualHost 127.0.0.1:{p}>\n    DocumentRoot "{r}/htdocs"\n'
              '    LimitRequestFieldSize {lim}\n</VirtualHost>'
              .format(p=h.big_port, r=h.root, lim=BIG_LIMIT))
    h.start()
    yield h
    h.stop()


@pytest.fixture(scope='module')
def ctx(shared_idp, attacker):
    return Ctx(shared_idp, attacker)


# ------------------------------------------------------------------------------ sending

def raw_request(port, path, header_bytes, timeout=15):
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\n' + header_bytes +
                  b'Connection: close\r\n\r\n')
        resp = http.client.HTTPResponse(s, method='GET')
        resp.begin()
        body = resp.read().decode('utf-8', 'replace')
        return Response(resp.status, resp.headers, body)
    finally:
        s.close()


def send(h, loc, spec, big):
    port = h.big_port if big else h.port
    path = h.path('conf', loc)
    if isinstance(spec, str):
        spec = bearer(spec)
    if 'raw' in spec:
        SENT.extend(re.findall(rb'[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+',
                               spec['raw']))
        return raw_request(port, path, spec['raw'])
    for _, v in spec['headers']:
        SENT.extend(w for w in v.replace(',', ' ').split() if w.count('.') >= 2)
    try:
        return http_request(port, path, spec['headers'])
    except (ConnectionResetError, BrokenPipeError) as e:
        pytest.fail('connection dropped instead of an HTTP answer: %r' % e)


def check(r, expect):
    ch = r.www_authenticate
    if expect == 'ok':
        assert r.status == 200 and r.body == 'Operation authorized' and not ch, r
    elif expect in ('invalid_token', 'invalid_request'):
        status = 401 if expect == 'invalid_token' else 400
        assert r.status == status, r
        assert len(ch) == 1, r
        pat = r'Bearer realm="api", error="%s", error_description=%s' % (expect, QS)
        assert re.fullmatch(pat, ch[0]), ch
    elif expect == 'challenge':
        assert r.status == 401 and ch == ['Bearer realm="api"'], r
    elif expect == 'httpd_400':
        assert r.status == 400, r
        assert not [c for c in ch if 'error=' in c], 'mod_b2c_auth answered, not httpd: %r' % ch
    else:
        raise AssertionError(expect)


# ------------------------------------------------------------------------------ tests

def test_case_count():
    assert len(C) >= 80, len(C)
    assert len(set(CASE_IDS)) == len(CASE_IDS), 'duplicate case ids'


@pytest.mark.parametrize('loc,build,expect,big', C)
def test_adversarial(adv, ctx, attacker, loc, build, expect, big):
    spec = build(ctx)
    if isinstance(spec, str):
        SENT.append(spec)
    before = len(attacker.seen)
    r = send(adv, loc, spec, big)
    check(r, expect)
    assert len(attacker.seen) == before, 'the module fetched %r from the attacker' % (
        attacker.seen[before:],)
    if isinstance(spec, str) and len(spec) > 40:
        echoed = r.body + str(r.headers)
        sig = spec.split('.')[-1]
        assert spec not in echoed and (len(sig) < 16 or sig not in echoed), 'token echoed'


def test_zz_no_fetch_from_attacker(attacker):
    assert attacker.seen == [], attacker.seen


def test_zz_server_alive_no_crash(adv):
    assert adv.alive()
    log = adv.error_log()
    assert 'Segmentation fault' not in log and 'exit signal' not in log, log[-3000:]
    assert not re.search(r'AH00052|AH00051|double free|AddressSanitizer', log), log[-3000:]


def test_zz_no_token_bytes_in_logs(adv):
    toks = [t.decode() if isinstance(t, bytes) else t for t in SENT]
    assert len(toks) > 80
    log = adv.error_log()
    assert_no_tokens_in(log, [t for t in toks if len(t) > 40], 'adversarial error log')
    assert_no_tokens_in(log, MINTED, 'adversarial error log')
    # the kid is not logged raw either (CR/LF, format strings)
    assert 'forged %s' not in log and '/etc/passwd' not in log


# ============================================================================== issue 11
# The security review's findings 2, 3, 5, 7, 9 and part of 10, each with the set-up that
# triggered it: a gateway whose token must stay with its own backend through ErrorDocument,
# mod_rewrite internal redirects and mod_include sub-requests; a virtual-host-level
# B2CClientToken under a customer's .htaccess proxy rule; an API whose claims must not
# follow a redirect into another configuration; case-twin claims; huge times; claim header
# bounds; Unicode line breaks; a future iat.

import os                                      # noqa: E402
import stat                                    # noqa: E402

from conftest import IS_ROOT, REPO             # noqa: E402

MODDIR = os.environ.get('B2C_MODULE_DIR', REPO)
I11_ROLE_TWINS = {
    'upper_later': [('ROLES', 'admin')],
    'title_later': [('Roles', 'admin')],
    'mixed_later': [('rOlEs', ['admin'])],
    'two_twins_later': [('ROLES', 'admin'), ('RoLeS', 'admin')],
    'upper_array_later': [('ROLES', ['admin', ROLE])],
}


class _I11Backend(BaseHTTPRequestHandler):
    """Records every request; /notfound/ answers 404, /ssi/ an SSI page including
    /oops/ssi-sub, everything else a JSON echo of path and headers."""
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.seen.append((self.path, list(self.headers.items())))
        status, ctype = 200, 'application/json'
        body = json.dumps({'path': self.path, 'headers': list(self.headers.items())}).encode()
        if self.path.startswith('/notfound/'):
            status = 404
        elif self.path.startswith('/ssi/'):
            ctype = 'text/html'
            body = b'page:<!--#include virtual="/oops/ssi-sub" -->:end'
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope='module')
def i11_rec():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), _I11Backend)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.seen = []
    t = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
    t.start()
    srv.url = 'http://127.0.0.1:%d' % srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


def i11_seen(rec, prefix):
    with rec.lock:
        return [h for p, h in rec.seen if prefix in p]


def i11_auth_values(headers):
    return [v for k, v in headers if k.lower() == 'authorization']


class I11Httpd(Httpd):
    BASE_MODULES = Httpd.BASE_MODULES + ['rewrite', 'include', 'socache_shmcb']


# ---- findings 2 and 3: the gateway's token stays with the backend named with it

I11_LEAKS = {
    # name: (request path, the path the redirected / sub-request reaches at the backend)
    'errordocument_503_proxypass': ('/e1/x', '/oops/e1'),
    'errordocument_404_proxy_error_override': ('/e2/x', '/oops/e2'),
    'errordocument_to_server_rewrite_p': ('/e3/x', '/rwerr/e3'),
    'errordocument_to_sethandler_proxy': ('/e4/x', '/htdocs/shx'),
    'errordocument_then_rewrite_internal_redirect': ('/e6/x', '/oops/e6'),
    'include_virtual_subrequest': ('/ssi/page', '/oops/ssi-sub'),
    'errordocument_custom_header_client': ('/e7/x', '/oops/e7'),
}
I11_HTACCESS_P = {
    # name: (.htaccess lines, request path under /hta/<name>/, backend path prefix)
    'rewrite_p_elsewhere': (['RewriteEngine On', 'RewriteRule ^ {rec}/h1/ [P]'], 'x', '/h1/'),
    'rewrite_p_same_backend_as_proxypass': (
        ['RewriteEngine On', 'RewriteRule ^(.*)$ {rec}/vapi/$1 [P]'], 'x', '/vapi/x'),
    'rewrite_p_query_qsa': (['RewriteEngine On', 'RewriteRule ^ {rec}/h5/?a=b [P,QSA]'],
                            'x?c=d', '/h5/'),
    'rewrite_p_after_env_rule': (['RewriteEngine On', 'RewriteRule ^ - [E=I11:1]',
                                  'RewriteRule ^(.*)$ {rec}/h6/$1 [P,L,NE]'], 'y', '/h6/'),
    'rewrite_p_from_parent_dir': (['RewriteEngine On', 'RewriteRule ^(.*)$ {rec}/h4/$1 [P]'],
                                  'deeper/z', '/h4/'),
    'sethandler_proxy': (['SetHandler "proxy:{rec}"'], 'testdata', '/hta/sethandler_proxy/'),
}


@pytest.fixture(scope='module')
def i11_gw(shared_idp, workdir, i11_rec):
    i, rec = shared_idp, i11_rec.url
    dead = 'http://127.0.0.1:%d' % free_port()       # nothing listens: mod_proxy answers 503
    h = I11Httpd(workdir, 'i11-gateway', loglevel='warn b2c_client:trace1')
    sdir = os.path.join(h.root, 'secrets')
    os.makedirs(sdir, exist_ok=True)
    os.chmod(sdir, 0o700)
    secret = os.path.join(sdir, 'backend.secret')
    with open(secret, 'w') as f:
        f.write(idpmod.CLIENT_SECRET + '\n')
    os.chmod(secret, 0o600)
    client = ('<B2CClient backend>\n    B2CTokenEndpoint %s\n    B2CClientId %s\n'
              '    B2CClientSecret file:%s\n    B2CScope api://%s/.default\n</B2CClient>'
              % (i.token_url('v2'), idpmod.CLIENT_ID, secret, AUD))
    h.server_extra = 'LoadModule b2c_client_module %s\n%s' % (
        os.path.join(MODDIR, 'mod_b2c_client.so'), client)
    loc = lambda path, *lines: h.add_raw('<Location %s>\n    %s\n</Location>'
                                         % (path, '\n    '.join(lines)))
    tok = 'B2CClientToken backend'
    loc('/oops/', 'ProxyPass %s/oops/' % rec)
    loc('/e1/', 'ProxyPass %s/' % dead, tok, 'ErrorDocument 503 /oops/e1')
    loc('/e2/', 'ProxyPass %s/notfound/' % rec, tok, 'ProxyErrorOverride On',
        'ErrorDocument 404 /oops/e2')
    h.add_raw('RewriteEngine On\nRewriteRule ^/rwerr/(.*)$ %s/rwerr/$1 [P]' % rec)
    loc('/e3/', 'ProxyPass %s/' % dead, tok, 'ErrorDocument 503 /rwerr/e3')
    loc('/shx/', 'SetHandler "proxy:%s"' % rec)
    loc('/e4/', 'ProxyPass %s/' % dead, tok, 'ErrorDocument 503 /shx/')
    h.add_location('conf', 'rdir', ['RewriteEngine On', 'RewriteRule ^x$ /oops/e6'])
    loc('/e6/', 'ProxyPass %s/' % dead, tok, 'ErrorDocument 503 /conf/rdir/x')
    loc('/e7/', 'ProxyPass %s/' % dead, tok, 'B2CClientTokenHeader X-Backend-Auth',
        'ErrorDocument 503 /oops/e7')
    loc('/ssi/', 'ProxyPass %s/ssi/' % rec, tok, 'Options +Includes',
        'SetOutputFilter INCLUDES')
    # controls: a redirect into a location naming the client gets the token there
    loc('/same/', 'ProxyPass %s/same/' % rec, tok)
    loc('/e8/', 'ProxyPass %s/' % dead, tok, 'ErrorDocument 503 /same/e8')
    # finding 3: B2CClientToken at virtual-host level; customers' .htaccess proxy rules
    h.vport = free_port()
    h.add_raw('<Directory "%s/htdocs/hta">\n    AllowOverride AuthConfig FileInfo\n'
              '</Directory>' % h.root)
    h.add_raw('Listen 127.0.0.1:{p}\n<VirtualHost 127.0.0.1:{p}>\n    DocumentRoot "{r}/htdocs"\n'
              '    B2CClientToken backend\n    ProxyPass /vapi/ {rec}/vapi/\n'
              '    RewriteEngine On\n    RewriteRule ^/vrw/(.*)$ {rec}/vrw/$1 [P]\n'
              '</VirtualHost>'.format(p=h.vport, r=h.root, rec=rec))
    for name, (lines, _, _) in I11_HTACCESS_P.items():
        h.add_location('htaccess', name, [l.format(rec=rec) for l in lines])
    h.start()
    yield h
    h.stop()
    assert_no_tokens_in(h.error_log(), MINTED, 'i11 gateway error log')


def test_i11_case_count():
    n = (len(I11_LEAKS) + 1 + len(I11_HTACCESS_P) + 2 + len(I11_ROLE_TWINS) + len(I11_REDIRECTS)
         + len(I11_BREAKS) + len(I11_BOUNDS) + len(I11_TIMES) + len(I11_MODES))
    assert n >= 40, n


@pytest.mark.parametrize('name', sorted(I11_LEAKS))
def test_i11_gateway_token_does_not_follow_redirects(i11_gw, i11_rec, name):
    path, reached = I11_LEAKS[name]
    before = len(i11_seen(i11_rec, reached))
    r = i11_gw.get(path)
    assert r.status < 600, r
    seen = i11_seen(i11_rec, reached)[before:]
    assert seen, 'the redirected request never reached the backend (%s): %r' % (reached, r)
    for headers in seen:
        assert not i11_auth_values(headers), 'gateway token leaked to %s' % reached
        assert not [v for k, v in headers if k.lower() == 'x-backend-auth'], headers


def test_i11_redirect_into_location_naming_client_gets_token(i11_gw, i11_rec):
    before = len(i11_seen(i11_rec, '/same/e8'))
    i11_gw.get('/e8/x')
    seen = i11_seen(i11_rec, '/same/e8')[before:]
    assert seen and [v for v in i11_auth_values(seen[0]) if v.startswith('Bearer ')], seen


@pytest.mark.parametrize('name', sorted(I11_HTACCESS_P))
def test_i11_htaccess_chosen_proxy_target_gets_no_token(i11_gw, i11_rec, name):
    _, sub, prefix = I11_HTACCESS_P[name]
    before = len(i11_seen(i11_rec, prefix))
    r = http_request(i11_gw.vport, '/hta/%s/%s' % (name, sub))
    seen = i11_seen(i11_rec, prefix)[before:]
    assert r.status == 200 and seen, (r, prefix)
    assert not i11_auth_values(seen[-1]), 'gateway token sent to a .htaccess proxy target'


@pytest.mark.parametrize('path,prefix', [('/vapi/ok', '/vapi/ok'), ('/vrw/ok', '/vrw/ok')],
                         ids=['vhost_proxypass_control', 'vhost_server_rewrite_control'])
def test_i11_vhost_level_client_still_reaches_its_backends(i11_gw, i11_rec, path, prefix):
    before = len(i11_seen(i11_rec, prefix))
    r = http_request(i11_gw.vport, path)
    seen = i11_seen(i11_rec, prefix)[before:]
    assert r.status == 200 and seen, r
    vals = i11_auth_values(seen[-1])
    assert len(vals) == 1 and vals[0].startswith('Bearer ') and vals[0][7:] in MINTED, vals


# ---- API side: findings 5, 7, 9 and the claim hardening of 10

I11_REDIRECTS = {
    # name: (path, expect claims in the env of the CGI that answers)
    'errordocument_into_other_audience_open': ('/conf/a/missing', False),
    'rewrite_into_other_audience_open': ('/conf/rw/go', False),
    'include_virtual_into_other_audience_open': ('/conf/inc/page.shtml', False),
    'rewrite_within_same_directory_control': ('/conf/rwsame/go', True),
}


@pytest.fixture(scope='module')
def i11_api(shared_idp, workdir, echo_backend):
    i = shared_idp
    h = I11Httpd(workdir, 'i11-api', server_extra='B2CAuthMetadataAllow %s/' % i.base)
    r = 'Require role %s' % ROLE
    other = ['AuthType Bearer', 'B2CAuthMetadataURL %s' % i.metadata_url(),
             'B2CAuthAudience some-other-api', 'Require all granted', 'CGIPassAuth On']
    h.add_location('conf', 'b', other)
    h.add_location('conf', 'a', base_rules(i) + [r, 'ErrorDocument 404 /conf/b/env.cgi'])
    h.add_location('conf', 'rw', base_rules(i) + [r, 'RewriteEngine On',
                                                 'RewriteRule ^go$ /conf/b/env.cgi'])
    h.add_location('conf', 'rwsame', base_rules(i) + [r, 'RewriteEngine On',
                                                     'RewriteRule ^go$ env.cgi'])
    h.add_location('conf', 'inc', base_rules(i) + [r, 'Options +Includes',
                                                  'AddOutputFilter INCLUDES .shtml'])
    h.add_location('conf', 'env', base_rules(i) + [r])
    h.add_location('conf', 'hdr', base_rules(i) + [r, 'B2CAuthClaimsHeaders On',
                                                  'ErrorDocument 404 /plainproxy/x'])
    h.add_raw('<Location /plainproxy/>\n    ProxyPass http://127.0.0.1:%d/plain/\n</Location>'
              % echo_backend)
    h.add_raw('<Location /pxh/>\n    ProxyPass http://127.0.0.1:%d/pxh/\n    %s\n'
              '    B2CAuthClaimsHeaders On\n</Location>'
              % (echo_backend, '\n    '.join(base_rules(i) + [r])))
    h.write()
    with open(os.path.join(h.root, 'htdocs', 'conf', 'inc', 'page.shtml'), 'w') as f:
        f.write('<!--#include virtual="/conf/b/env.cgi" -->\n')
    h.start()
    yield h
    h.stop()
    assert_no_tokens_in(h.error_log(), MINTED, 'i11 api error log')


def i11_claim_env(env):
    return {k: v for k, v in env.items() if 'B2C_CLAIM_' in k}


@pytest.mark.parametrize('name', sorted(I11_REDIRECTS))
def test_i11_claims_do_not_follow_redirect_into_other_config(i11_api, shared_idp, name):
    path, inherit = I11_REDIRECTS[name]
    tok = shared_idp.mint(claims={'name': 'i11-user'})
    r = i11_api.get(path, tok)
    env = r.env()
    assert 'PATH' in env or 'GATEWAY_INTERFACE' in env, r
    got = i11_claim_env(env)
    if inherit:
        assert env.get('B2C_CLAIM_name') == 'i11-user' and env.get('REMOTE_USER'), env
    else:
        assert not got, 'claims of another location exported: %r' % sorted(got)
        if 'include' not in name:        # mod_include copies its page's own variables
            assert env.get('REMOTE_USER', '') == '', env


def test_i11_claim_headers_do_not_follow_redirect_to_plain_proxy(i11_api, shared_idp):
    tok = shared_idp.mint(claims={'name': 'i11-user'})
    r = i11_api.get('/conf/hdr/missing', tok)
    d = json.loads(r.body)
    assert d['path'].startswith('/plain/'), d
    claims = [k for k, v in d['headers'] if k.lower().startswith('x-b2c-claim')]
    assert not claims, claims


@pytest.mark.parametrize('name', sorted(I11_ROLE_TWINS))
def test_i11_case_twin_claims_do_not_override_roles(i11_api, shared_idp, name):
    extra = dict(I11_ROLE_TWINS[name])
    tok = shared_idp.mint(claims=extra)
    env = i11_api.get('/conf/env/env.cgi', tok).env()
    assert env.get('B2C_CLAIM_roles') == ROLE, i11_claim_env(env)
    assert len([k for k in env if k.lower() == 'b2c_claim_roles']) == 1, i11_claim_env(env)
    d = json.loads(i11_api.get('/pxh/x', tok).body)
    vals = [v for k, v in d['headers'] if k.lower() == 'x-b2c-claim-roles']
    assert vals == [ROLE], d['headers']


I11_BREAKS = {
    'nel_u0085': '\u0085',
    'line_separator_u2028': '\u2028',
    'paragraph_separator_u2029': '\u2029',
    'nel_then_crlf': '\u0085\r\n',
    'u2028_in_array_claim': None,
}


@pytest.mark.parametrize('name', sorted(I11_BREAKS))
def test_i11_unicode_line_breaks_neutralised(i11_api, shared_idp, name):
    brk = I11_BREAKS[name]
    if brk is None:
        claims = {'name': ['ok', 'a\u2028X-I11-Injected: 1']}
    else:
        claims = {'name': 'a%sX-I11-Injected: 1' % brk}
    tok = shared_idp.mint(claims=claims)
    d = json.loads(i11_api.get('/pxh/x', tok).body)
    names = [k.lower() for k, v in d['headers']]
    assert 'x-i11-injected' not in names, d['headers']
    vals = [v for k, v in d['headers'] if k.lower() == 'x-b2c-claim-name']
    assert len(vals) == 1 and 'X-I11-Injected: 1' in vals[0], d['headers']
    # the backend's (Python's) header parser decoded the bytes as latin-1
    for ch in ('\x85', '\xe2\x80\xa8', '\xe2\x80\xa9', '\u2028', '\u2029', '\r', '\n'):
        assert ch not in vals[0], repr(vals[0])
    env = i11_api.get('/conf/env/env.cgi', tok).env()
    assert 'X-I11-Injected: 1' in env.get('B2C_CLAIM_name', ''), env


I11_BOUNDS = {
    # name: (number of extra claims, size of each value)
    'claims_150_small': (150, 1),
    'claims_99_small': (99, 1),
    'claims_40_of_100_bytes': (40, 100),
    'one_claim_4500_bytes': (1, 4500),
}


@pytest.mark.parametrize('name', sorted(I11_BOUNDS))
def test_i11_claim_headers_bounded(i11_api, shared_idp, name):
    n, size = I11_BOUNDS[name]
    tok = shared_idp.mint(claims={'c%03d' % k: 'v' * size for k in range(n)})
    mark = i11_api.log_mark()
    r = i11_api.get('/pxh/x', tok)
    assert r.status == 200, r            # a backend refuses > 100 fields (431) or 8 KB fields
    d = json.loads(r.body)
    hdrs = [(k, v) for k, v in d['headers'] if k.lower().startswith('x-b2c-claim-')]
    assert len(hdrs) <= 50 and sum(len(k) + len(v) + 2 for k, v in hdrs) <= 32768, len(hdrs)
    assert all(len(k) + len(v) + 2 <= 4096 for k, v in hdrs)
    assert [v for k, v in hdrs if k.lower() == 'x-b2c-claim-roles'] == [ROLE]
    log = i11_api.log_since(mark)
    total = len(shared_idp.verify_token(tok))
    assert ('B2C01109' in log) == (total > 50 or size > 4000), log[-2000:]
    env = i11_api.get('/conf/env/env.cgi', tok).env()
    assert len([k for k in env if k.startswith('B2C_CLAIM_c')]) == n   # env is not cut


I11_TIMES = {
    # name: (claims over the defaults, expect)
    'exp_2_53_shared_cache': ({'exp': 2 ** 53}, 'ok'),
    'exp_2_53_minus_1': ({'exp': 2 ** 53 - 1}, 'ok'),
    'exp_year_10000': ({'exp': 253402300800}, 'ok'),
    'exp_2_40': ({'exp': 2 ** 40}, 'ok'),
    'nbf_minus_2_53': ({'nbf': -2 ** 53}, 'ok'),
    'iat_beyond_skew': ({'iat': int(time.time()) + 3600}, 'invalid_token'),
    'iat_2_53': ({'iat': 2 ** 53}, 'invalid_token'),
    'iat_401s_ahead': ({'iat': int(time.time()) + 401}, 'invalid_token'),
    'iat_within_skew_control': ({'iat': int(time.time()) + 120}, 'ok'),
    'iat_minus_2_53_control': ({'iat': -2 ** 53}, 'ok'),
}


@pytest.mark.parametrize('name', sorted(I11_TIMES))
def test_i11_times(i11_api, shared_idp, name):
    claims, expect = I11_TIMES[name]
    tok = shared_idp.mint(claims=dict(claims))
    for _ in range(2):                   # validated and shared, then from the caches
        try:
            r = i11_api.get('/conf/env/testdata', tok)
        except (ConnectionError, http.client.HTTPException) as e:
            pytest.fail('no answer (a UBSan build aborts the child on overflow): %r' % e)
        if expect == 'ok':
            assert r.status == 200 and r.body == 'Operation authorized', r
        else:
            assert r.status == 401 and 'invalid_token' in r.www_authenticate[0], r
    assert i11_api.alive()


# ---- finding 10: secret files readable by every user get a startup warning

I11_MODES = {'mode_0644_warns': (0o644, True), 'mode_0604_warns': (0o604, True),
             'mode_0640_quiet': (0o640, False), 'mode_0600_quiet': (0o600, False)}


@pytest.mark.parametrize('name', sorted(I11_MODES))
def test_i11_world_readable_secret_file_warns(shared_idp, workdir, name):
    mode, warns = I11_MODES[name]
    h = Httpd(workdir, 'i11-mode-' + name, load_b2c=False, loglevel='warn')
    os.makedirs(h.root, exist_ok=True)
    path = os.path.join(h.root, 'client.secret')
    with open(path, 'w') as f:
        f.write('not-the-real-secret-%s\n' % name)
    os.chmod(path, mode)
    h.server_extra = ('LoadModule b2c_client_module %s\n<B2CClient c>\n    B2CTokenEndpoint %s\n'
                      '    B2CClientId %s\n    B2CClientSecret file:%s\n    B2CScope s\n'
                      '</B2CClient>' % (os.path.join(MODDIR, 'mod_b2c_client.so'),
                                        shared_idp.token_url('v2'), idpmod.CLIENT_ID, path))
    rc, out = h.check()
    assert rc == 0, out
    assert ('B2C02009' in out) == warns, out
    assert 'not-the-real-secret' not in out


# ===== issue 11 findings 4, 6, 10: trust options, guard, secret echoes

from conftest import RecordingIdP             # noqa: E402


@pytest.fixture(scope='module')
def i11_tls(workdir):
    """An https IdP (its own CA) and a second CA that did not sign its certificate."""
    good, other = os.path.join(workdir, 'i11-ca-good'), os.path.join(workdir, 'i11-ca-other')
    os.makedirs(good)
    os.makedirs(other)
    ca, cert, key = idpmod.make_tls_files(good)
    wrong_ca = idpmod.make_tls_files(other)[0]
    i = RecordingIdP(tls=(cert, key)).start()
    yield i, ca, wrong_ca
    i.stop()


def i11_two_vhosts(workdir, i, name, cache, ca_a, ca_b):
    """Vhost A (h.vport) trusts ca_a; B, the main server (h.port), trusts ca_b (None: the
    system store; a vhost inherits the main server's CA, so B is the main one). Both protect
    /conf/api/ with the same metadata URL."""
    h = I11Httpd(workdir, name, server_extra='B2CAuthCache %s\nB2CAuthFetchTimeout 3%s' % (
        cache, '\nB2CAuthCACertificate %s' % ca_b if ca_b else ''))
    h.add_location('conf', 'api', base_rules(i) + ['Require valid-user'])
    h.vport = free_port()
    h.add_raw('Listen 127.0.0.1:{p}\n<VirtualHost 127.0.0.1:{p}>\n    DocumentRoot "{r}/htdocs"\n'
              '    B2CAuthCACertificate {ca}\n</VirtualHost>'.format(p=h.vport, r=h.root, ca=ca_a))
    return h.start()


def i11_vhost_get(port, tok):
    return http_request(port, '/conf/api/testdata', headers={'Authorization': 'Bearer ' + tok})


I11_VHOST_TRUST = {
    # name: (B2CAuthCache, which vhost asks first, B's CA: 'none' system store or 'wrong')
    'shmcb_good_first_then_untrusting': ('shmcb', 'a', 'none'),
    'none_good_first_then_untrusting': ('none', 'a', 'none'),
    'shmcb_untrusting_first_then_good': ('shmcb', 'b', 'none'),
    'none_untrusting_first_then_good': ('none', 'b', 'none'),
    'shmcb_good_first_then_wrong_ca': ('shmcb', 'a', 'wrong'),
    'none_wrong_ca_first_then_good': ('none', 'b', 'wrong'),
}


@pytest.mark.parametrize('name', sorted(I11_VHOST_TRUST))
def test_i11_vhost_trust_options_do_not_leak(i11_tls, workdir, name):
    """finding 4: one vhost's keys (fetched under its CA) never serve a vhost whose own fetch
    fails, and one vhost's failed fetch never puts another in its retry pause."""
    i, ca, wrong = i11_tls
    cache, first, b_ca = I11_VHOST_TRUST[name]
    h = i11_two_vhosts(workdir, i, 'i11-vh-' + name, cache, ca, wrong if b_ca == 'wrong' else None)
    try:
        tok = i.mint()
        SENT.append(tok)
        order = [('a', h.vport), ('b', h.port)]
        if first == 'b':
            order.reverse()
        got = {}
        for which, port in order + order:
            got.setdefault(which, []).append(i11_vehost_status(port, tok))
        assert got['a'] == [200, 200], (got, h.error_log()[-3000:])
        assert got['b'] == [503, 503], (got, h.error_log()[-3000:])
        assert h.alive()
    finally:
        h.stop()
    assert_no_tokens_in(h.error_log(), MINTED, 'i11 vhost log')


def i11_vehost_status(port, tok):
    return i11_vhost_get(port, tok).status


# ---- finding 10: fetches started from .htaccess refuse internal addresses after DNS

I11_GUARD = {
    # name: (host the allow-list and the .htaccess metadata URL name, expected status)
    'numeric_loopback_allowed': ('127.0.0.1', 200),
    'name_resolving_to_loopback_refused': ('localhost', 503),
}


@pytest.fixture(scope='module')
def i11_guard(shared_idp, workdir):
    i = shared_idp
    out = {}
    for name, (host, _) in I11_GUARD.items():
        base = 'http://%s:%d' % (host, i.port)
        h = I11Httpd(workdir, 'i11-guard-' + name,
                     server_extra='B2CAuthMetadataAllow %s/\nB2CAuthFetchTimeout 3' % base)
        md = i.metadata_url().replace(i.base, base)
        h.add_location('htaccess', 'api', ['AuthType Bearer', 'B2CAuthMetadataURL %s' % md,
                                           'B2CAuthAudience %s' % AUD, 'Require valid-user'])
        h.add_location('conf', 'api', base_rules(i) + ['Require valid-user'])
        # the .htaccess location's metadata URL and audience, from httpd.conf (no guard)
        h.add_location('conf', 'same', ['AuthType Bearer', 'B2CAuthMetadataURL %s' % md,
                                        'B2CAuthAudience %s' % AUD, 'Require valid-user'])
        out[name] = h.start()
    yield out
    for h in out.values():
        h.stop()
        assert_no_tokens_in(h.error_log(), MINTED, 'i11 guard log')


@pytest.mark.parametrize('name', sorted(I11_GUARD))
def test_i11_htaccess_fetch_guard(i11_guard, shared_idp, name):
    h = i11_guard[name]
    expect = I11_GUARD[name][1]
    mark = h.log_mark()
    tok = shared_idp.mint()
    r = h.get('/hta/api/testdata', tok)
    assert r.status == expect, (r, h.log_since(mark)[-2000:])
    log = h.log_since(mark)
    if expect == 503:
        assert 'internal address' in log and 'B2C01002' in log, log[-2000:]
    else:
        assert 'internal address' not in log, log[-2000:]


@pytest.mark.parametrize('name', sorted(I11_GUARD))
def test_i11_httpd_conf_fetch_not_guarded(i11_guard, shared_idp, name):
    """the operator's own metadata URL (httpd.conf) on loopback keeps working"""
    r = i11_guard[name].get('/conf/api/testdata', shared_idp.mint())
    assert r.status == 200, r


# ---- finding 6: a token endpoint echoing the secret gets nothing of it into the log

def i11_u_escape(text):
    return ''.join('\\u%04x' % ord(c) for c in text)


def i11_secret_forms(client_id, secret):
    from urllib.parse import quote_plus
    pair = '%s:%s' % (quote_plus(client_id, safe='-._~'), quote_plus(secret, safe='-._~'))
    return [secret, secret[:8], secret[-8:], quote_plus(secret),
            base64.b64encode(pair.encode()).decode(),
            base64.b64encode(('%s:%s' % (client_id, secret)).encode()).decode()]


I11_ECHOES = {
    # name: (B2CClientAuthMethod, status, body from (client_id, secret, basic value))
    'json_u_escaped_description': ('client_secret_post', 401, lambda c, s, b: json.dumps(
        {'error': 'invalid_client'})[:-1] + ', "error_description": "bad %s"}' % i11_u_escape(s)),
    'json_u_escaped_error_500': ('client_secret_post', 500, lambda c, s, b: '{"error": "%s"}'
                                 % i11_u_escape(s)),
    'straddles_the_300_cut': ('client_secret_post', 400, lambda c, s, b: json.dumps(
        {'error': 'invalid_client', 'error_description': 'x' * 295 + s})),
    'straddles_the_cut_u_escaped': ('client_secret_post', 400, lambda c, s, b: json.dumps(
        {'error': 'invalid_client'})[:-1] + ', "error_description": "%s%s"}'
        % ('y' * 296, i11_u_escape(s))),
    'basic_header_echo': ('client_secret_basic', 401, lambda c, s, b: json.dumps(
        {'error': 'invalid_client', 'error_description': 'got Authorization: Basic ' + b})),
    'basic_header_echo_u_escaped': ('client_secret_basic', 401, lambda c, s, b: json.dumps(
        {'error': 'invalid_client'})[:-1] + ', "error_description": "%s"}' % i11_u_escape(b)),
    'plain_echo_control': ('client_secret_post', 401, lambda c, s, b: json.dumps(
        {'error': 'invalid_client', 'error_description': 'secret was ' + s})),
}


@pytest.fixture(scope='module')
def i11_echo_idp():
    i = RecordingIdP().start()
    yield i
    i.stop()


@pytest.mark.parametrize('name', sorted(I11_ECHOES))
def test_i11_echoed_secret_never_logged(i11_echo_idp, i11_rec, workdir, name):
    import uuid
    method, status, body = I11_ECHOES[name]
    i = i11_echo_idp
    cid = idpmod.CLIENT_ID
    secret = 'Qz9%s~s' % uuid.uuid4().hex
    from urllib.parse import quote_plus
    basic = base64.b64encode(('%s:%s' % (quote_plus(cid, safe='-._~'),
                                         quote_plus(secret, safe='-._~'))).encode()).decode()
    i.set_fault('token', 'status', status=status, body=body(cid, secret, basic))
    h = I11Httpd(workdir, 'i11-echo-' + name, loglevel='trace8')
    sfile = os.path.join(h.root, 'echo.secret')
    os.makedirs(h.root, exist_ok=True)
    with open(sfile, 'w') as f:
        f.write(secret + '\n')
    os.chmod(sfile, 0o600)
    h.server_extra = ('LoadModule b2c_client_module %s\n<B2CClient echo>\n'
                      '    B2CTokenEndpoint %s\n    B2CClientId %s\n    B2CClientSecret file:%s\n'
                      '    B2CClientAuthMethod %s\n    B2CScope api://%s/.default\n</B2CClient>'
                      % (os.path.join(MODDIR, 'mod_b2c_client.so'), i.token_url('v2'), cid,
                         sfile, method, AUD))
    h.add_raw('<Location /g/>\n    ProxyPass %s/g/\n    B2CClientToken echo\n</Location>'
              % i11_rec.url)
    try:
        h.start()
        r = http_request(h.port, '/g/x')
        assert r.status >= 500, r
        assert poll_log(h, 'B2C02102'), h.error_log()[-3000:]
    finally:
        h.stop()
        i.clear_faults()
    log = h.error_log()
    assert 'withheld' in log, log[-3000:]
    for form in i11_secret_forms(cid, secret):
        assert form not in log, 'secret form %r in the error log' % form[:4]


def poll_log(h, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in h.error_log():
            return True
        time.sleep(0.05)
    return False


# ---- finding 10: a discovered plain-http token endpoint gets the same warning as a configured one

I11_DISCOVERED = {
    # name: (B2CAuthority relative to the IdP base, expect B2C02105)
    'discovery_document_http': ('/{tid}/v2.0/.well-known/openid-configuration', True),
    'oauth2_path_form_no_discovery': ('/{tid}/oauth2/v2.0', False),
}


@pytest.mark.parametrize('name', sorted(I11_DISCOVERED))
def test_i11_discovered_http_token_endpoint_warns(shared_idp, i11_rec, workdir, name):
    i = shared_idp
    rel, warns = I11_DISCOVERED[name]
    h = I11Httpd(workdir, 'i11-disc-' + name, loglevel='warn b2c_client:info')
    sfile = os.path.join(h.root, 'disc.secret')
    os.makedirs(h.root, exist_ok=True)
    with open(sfile, 'w') as f:
        f.write(idpmod.CLIENT_SECRET + '\n')
    os.chmod(sfile, 0o600)
    h.server_extra = ('LoadModule b2c_client_module %s\n<B2CClient disc>\n'
                      '    B2CAuthority %s%s\n    B2CClientId %s\n    B2CClientSecret file:%s\n'
                      '    B2CScope api://%s/.default\n</B2CClient>'
                      % (os.path.join(MODDIR, 'mod_b2c_client.so'), i.base,
                         rel.format(tid=i.tid), idpmod.CLIENT_ID, sfile, AUD))
    h.add_raw('<Location /g/>\n    ProxyPass %s/g/\n    B2CClientToken disc\n</Location>'
              % i11_rec.url)
    try:
        h.start()
        for _ in range(2):
            r = http_request(h.port, '/g/x')
            assert r.status == 200, (r, h.error_log()[-2000:])
        assert poll_log(h, 'B2C02101'), h.error_log()[-2000:]
    finally:
        h.stop()
    log = h.error_log()
    assert ('B2C02105' in log) == warns, log[-2000:]      # once per process
    if warns:
        line = [l for l in log.splitlines() if 'B2C02105' in l][0]
        assert 'plain http://' in line and '<B2CClient disc>' in line, line
    assert idpmod.CLIENT_SECRET not in log


@pytest.mark.parametrize('name', sorted(I11_GUARD))
def test_i11_verdict_from_httpd_conf_not_reused_under_htaccess_rule(i11_guard, shared_idp, name):
    """finding 10: a token validated for httpd.conf metadata is checked again under the
    .htaccess rule (same URL, same audience), not taken from the verdict cache."""
    h = i11_guard[name]
    tok = shared_idp.mint()
    assert h.get('/conf/same/testdata', tok).status == 200
    r = h.get('/hta/api/testdata', tok)
    assert r.status == I11_GUARD[name][1], (r, h.error_log()[-2000:])


def test_i11_trust_guard_echo_case_count():
    n = (len(I11_VHOST_TRUST) + 3 * len(I11_GUARD) + len(I11_ECHOES) + len(I11_DISCOVERED))
    assert n >= 15, n
