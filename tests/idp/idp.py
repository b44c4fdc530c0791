#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Test identity platform: a loopback stand-in for the Microsoft identity platform.

Speaks enough of Microsoft Entra ID / Azure AD B2C for mod_b2c_auth and mod_b2c_client
tests: OpenID discovery, JWKS, the OAuth 2.0 client-credentials token endpoint, and
access tokens shaped like the real ones. Standard library + `cryptography` only.

Layout of the URL space (``<base>`` is ``http://127.0.0.1:<port>``; ``{tenant}`` may be the
tenant id, ``<name>.onmicrosoft.com`` or the B2C name)::

  /{tenant}/v2.0/.well-known/openid-configuration        v2; iss https://login.microsoftonline.com/{tid}/v2.0
  /{tenant}/discovery/v2.0/keys                           v2 keys (each carries an "issuer" member)
  /{tenant}/oauth2/v2.0/token                             client_credentials, scope=<resource>/.default
  /{tenant}/.well-known/openid-configuration             v1; iss https://sts.windows.net/{tid}/
  /{tenant}/discovery/keys                                v1 keys
  /{tenant}/oauth2/token                                  v1 client_credentials (resource=...)
  /{tenant}/{policy}/v2.0/.well-known/openid-configuration  B2C; iss https://{name}.b2clogin.com/{tid}/v2.0/
  /{tenant}/{policy}/discovery/v2.0/keys                  B2C keys
  /{tenant}/{policy}/oauth2/v2.0/token                    B2C client_credentials (app permissions in scp)
  /common/v2.0/.well-known/openid-configuration           multi-tenant; iss has the literal {tenantid}
  /common/discovery/v2.0/keys                             our keys + the real Entra keys (tests/data)
  /_control/<op>                                          JSON POST ops for the CLI / demo (see _control)

Python use::

    idp = TestIdP().start()           # port 0 -> free port; idp.base is the URL
    tok = idp.mint('v2', roles=['access:test-api'])
    idp.rotate_keys(); idp.set_fault('jwks', 'status', status=503); idp.counts['jwks']
    idp.stop()

HTTPS: ``ca, cert, key = make_tls_files(dir); TestIdP(tls=(cert, key))`` serves https with a
certificate from a throw-away CA (``ca`` is the bundle to trust).

CLI: ``/usr/bin/python3 tests/idp/idp.py serve --port 0 --port-file F`` prints the base URL
(``--tls-dir D`` serves https and writes D/ca.pem).

Faults (``set_fault(endpoint, mode, ...)``; endpoint is metadata|jwks|token|all) apply before
the normal answer: ``status`` (HTTP code + Retry-After), ``close`` (drop the connection),
``garbage`` (200 + non-JSON), ``huge`` (200 + a multi-megabyte body), ``delay`` (sleep, then
answer normally), ``trickle`` (200 + a body sent one byte every ``delay`` seconds, for ``size``
bytes at most); ``times=N`` limits a fault to the next N requests.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
REAL_COMMON_JWKS = os.path.join(HERE, '..', 'data', 'entra-common', 'jwks.json')
V2_KEY_ISSUER = 'https://login.microsoftonline.com/{tenantid}/v2.0'
GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'

DEFAULT_TENANT_ID = '3f6c1a2e-8b4d-4e0f-9a7c-5d2b1e0f4c3a'
DEFAULT_B2C_NAME = 'contoso'
DEFAULT_POLICY = 'B2C_1_client_credentials'
API_CLIENT_ID = '8d3a6c1f-2b5e-4f7a-9c0d-1e2f3a4b5c6d'       # the protected API (audience)
CLIENT_ID = '5e7f9a1b-3c4d-4e6f-8a0b-2c3d4e5f6a7b'           # the daemon calling it
CLIENT_SECRET = 'Qx8~test.secret-value_0123456789abcdefGHIJ'
CLIENT_OID = '6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'           # service principal object id
ROLE = 'access:test-api'


# --------------------------------------------------------------------------- helpers

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64u_decode(s):
    if isinstance(s, str):
        s = s.encode('ascii')
    return base64.urlsafe_b64decode(s + b'=' * (-len(s) % 4))


def _int_b64u(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, 'big'))


def _json_b64(obj):
    if isinstance(obj, (bytes, bytearray)):
        return b64u(bytes(obj))
    if isinstance(obj, str):
        return b64u(obj.encode())
    return b64u(json.dumps(obj, separators=(',', ':')).encode())


_HASHES = {'256': hashes.SHA256, '384': hashes.SHA384, '512': hashes.SHA512}
_EC_CURVES = {'ES256': (ec.SECP256R1, 'P-256', 32), 'ES384': (ec.SECP384R1, 'P-384', 48),
              'ES512': (ec.SECP521R1, 'P-521', 66)}


def sign(alg, private_key, data, hmac_key=None):
    """Sign ``data`` with JOSE ``alg``; 'none' gives an empty signature."""
    if alg == 'none':
        return b''
    h = _HASHES[alg[2:]]
    if alg.startswith('HS'):
        return hmac.new(hmac_key, data, getattr(hashlib, 'sha' + alg[2:])).digest()
    if alg.startswith('RS'):
        return private_key.sign(data, padding.PKCS1v15(), h())
    if alg.startswith('PS'):
        return private_key.sign(data, padding.PSS(padding.MGF1(h()), h.digest_size), h())
    if alg.startswith('ES'):
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(h())))
        size = _EC_CURVES[alg][2]
        return r.to_bytes(size, 'big') + s.to_bytes(size, 'big')
    raise ValueError('unsupported alg %r' % alg)


def verify(alg, public_key, data, sig):
    """Return True if ``sig`` is a valid JOSE ``alg`` signature of ``data``."""
    try:
        h = _HASHES[alg[2:]]
        if alg.startswith('RS'):
            public_key.verify(sig, data, padding.PKCS1v15(), h())
        elif alg.startswith('PS'):
            public_key.verify(sig, data, padding.PSS(padding.MGF1(h()), h.digest_size), h())
        elif alg.startswith('ES'):
            size = len(sig) // 2
            der = encode_dss_signature(int.from_bytes(sig[:size], 'big'),
                                       int.from_bytes(sig[size:], 'big'))
            public_key.verify(der, data, ec.ECDSA(h()))
        else:
            return False
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False


def decode_jwt(token):
    """Split a compact JWS into (header dict, payload dict, signing input bytes, signature)."""
    h, p, s = token.split('.')
    return (json.loads(b64u_decode(h)), json.loads(b64u_decode(p)),
            (h + '.' + p).encode('ascii'), b64u_decode(s))


def self_signed_cert(private_key, cn='accounts.accesscontrol.windows.net', days=365 * 5):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(private_key, hashes.SHA256()))


class SigningKey:
    """A key pair with its certificate and its JWK, shaped like Microsoft's."""

    def __init__(self, kty='RSA', bits=2048, curve='ES256', issuer=V2_KEY_ISSUER,
                 tenants=None, published=True):
        if kty == 'RSA':
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            self.alg = 'RS256'
        else:
            self.private_key = ec.generate_private_key(_EC_CURVES[curve][0]())
            self.alg = curve
        self.kty = kty
        self.cert = self_signed_cert(self.private_key)
        der = self.cert.public_bytes(serialization.Encoding.DER)
        self.x5t = b64u(hashlib.sha1(der).digest())
        self.x5t_s256 = b64u(hashlib.sha256(der).digest())
        self.kid = self.x5t          # Microsoft: kid == x5t == SHA-1 thumbprint of the cert
        self.x5c = base64.b64encode(der).decode('ascii')
        self.issuer = issuer         # "issuer" member on v2 / common keys (None: omit)
        self.tenants = tenants       # None: in every JWKS; else a set of tids and/or 'common'
        self.published = published
        self.jwk_extra = {}          # members to add/override in the JWK (e.g. use=enc)

    @property
    def public_key(self):
        return self.private_key.public_key()

    def public_pem(self):
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    def private_pem(self):
        return self.private_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def jwk(self, issuer_member=True):
        nums = self.public_key.public_numbers()
        if self.kty == 'RSA':
            k = {'kty': 'RSA', 'use': 'sig', 'kid': self.kid, 'x5t': self.x5t,
                 'n': _int_b64u(nums.n), 'e': _int_b64u(nums.e), 'x5c': [self.x5c]}
        else:
            crv, size = _EC_CURVES[self.alg][1:]
            k = {'kty': 'EC', 'use': 'sig', 'kid': self.kid, 'x5t': self.x5t, 'crv': crv,
                 'x': _int_b64u(nums.x, size), 'y': _int_b64u(nums.y, size), 'x5c': [self.x5c]}
        if issuer_member and self.issuer:
            k['issuer'] = self.issuer
        k.update(self.jwk_extra)
        return k


class Tenant:
    def __init__(self, tid=DEFAULT_TENANT_ID, name=DEFAULT_B2C_NAME, policies=(DEFAULT_POLICY,)):
        self.tid = tid
        self.name = name
        self.policies = [p.lower() for p in policies]

    def matches(self, segment):
        s = segment.lower()
        return s in (self.tid, self.name, self.name + '.onmicrosoft.com')


class ApiApp:
    """A registered API (resource): its client id, app id URI and app roles."""

    def __init__(self, client_id=API_CLIENT_ID, app_id_uri=None, roles=(ROLE,)):
        self.client_id = client_id
        self.app_id_uri = app_id_uri or 'api://' + client_id
        self.roles = list(roles)

    def identifiers(self, tenant):
        return {self.client_id, self.app_id_uri,
                'https://%s.onmicrosoft.com/%s' % (tenant.name, self.client_id)}


class Client:
    """A registered confidential client with app permissions on APIs."""

    def __init__(self, client_id=CLIENT_ID, secret=CLIENT_SECRET, cert=None,
                 grants=None, oid=CLIENT_OID):
        self.client_id = client_id
        self.secret = secret
        self.cert = cert              # x509.Certificate for private_key_jwt, or None
        self.grants = grants if grants is not None else {API_CLIENT_ID: [ROLE]}
        self.oid = oid


def make_client_certificate(cn='mod_b2c test client'):
    """(private key, certificate) for private_key_jwt clients."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, self_signed_cert(key, cn=cn)


def make_tls_files(directory, san=('127.0.0.1', 'localhost')):
    """A test CA and a server certificate signed by it, written as PEM files into
    ``directory``: returns (ca_file, cert_file, key_file). ``san``: IPs and DNS names."""
    import ipaddress
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'mod_b2c test CA')])
    now = datetime.datetime.utcnow()
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = []
    for n in san:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            names.append(x509.DNSName(n))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(san[0]))]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ('ca.pem', 'server.pem', 'server.key')]
    for p, data in zip(paths, (ca.public_bytes(serialization.Encoding.PEM),
                               cert.public_bytes(serialization.Encoding.PEM),
                               key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))):
        with open(p, 'wb') as f:
            f.write(data)
        os.chmod(p, 0o644)
    return tuple(paths)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_ctx = None

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:     # TLS handshake in the request thread, not accept()
            request.settimeout(10)
            request = self.ssl_ctx.wrap_socket(request, server_side=True)
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        pass                             # failed handshakes, resets: expected in fault tests


class TokenError(Exception):
    def __init__(self, status, error, code, description):
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


# --------------------------------------------------------------------------- the IdP

class TestIdP:
    __test__ = False   # not a pytest test class

    ENDPOINTS = ('metadata', 'jwks', 'token')

    def __init__(self, host='127.0.0.1', port=0, tenants=None, apis=None, clients=None,
                 token_lifetime=3599, ec_key=False, real_common_keys=True, tls=None):
        self.host, self.port = host, port
        self.tls = tls        # None, or (cert_file, key_file): serve https
        self.tenants = tenants or [Tenant()]
        self.apis = apis or [ApiApp()]
        self.clients = {c.client_id: c for c in (clients or [Client()])}
        self.token_lifetime = token_lifetime
        self.keys = [SigningKey()]
        self.active_kid = self.keys[0].kid
        if ec_key:
            self.keys.append(SigningKey('EC'))
        self.real_common_keys = []
        if real_common_keys and os.path.exists(REAL_COMMON_JWKS):
            with open(REAL_COMMON_JWKS) as f:
                self.real_common_keys = json.load(f)['keys']
        self.lock = threading.RLock()
        self.faults = {}
        self.counts = {e: 0 for e in self.ENDPOINTS}
        self.request_log = []
        self.used_jti = set()
        self._stopping = threading.Event()
        self.httpd = None
        self.thread = None

    # ---- lifecycle
    def start(self):
        self.httpd = _Server((self.host, self.port), _Handler)
        self.httpd.idp = self
        if self.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.httpd.ssl_ctx = ctx
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={'poll_interval': 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base(self):
        return '%s://%s:%d' % ('https' if self.tls else 'http', self.host, self.port)

    # ---- well-known names
    @property
    def tenant(self):
        return self.tenants[0]

    @property
    def tid(self):
        return self.tenant.tid

    def metadata_url(self, kind='v2', tenant=None, policy=None):
        t = tenant or self.tenant
        if kind == 'v2':
            return '%s/%s/v2.0/.well-known/openid-configuration' % (self.base, t.tid)
        if kind == 'v1':
            return '%s/%s/.well-known/openid-configuration' % (self.base, t.tid)
        if kind == 'b2c':
            return '%s/%s.onmicrosoft.com/%s/v2.0/.well-known/openid-configuration' % (
                self.base, t.name, policy or t.policies[0])
        if kind == 'common':
            return '%s/common/v2.0/.well-known/openid-configuration' % self.base
        raise ValueError(kind)

    def token_url(self, kind='v2', tenant=None, policy=None):
        t = tenant or self.tenant
        if kind == 'v2':
            return '%s/%s/oauth2/v2.0/token' % (self.base, t.tid)
        if kind == 'v1':
            return '%s/%s/oauth2/token' % (self.base, t.tid)
        if kind == 'b2c':
            return '%s/%s.onmicrosoft.com/%s/oauth2/v2.0/token' % (
                self.base, t.name, policy or t.policies[0])
        raise ValueError(kind)

    @staticmethod
    def issuer(kind, tenant):
        if kind == 'v2':
            return 'https://login.microsoftonline.com/%s/v2.0' % tenant.tid
        if kind == 'v1':
            return 'https://sts.windows.net/%s/' % tenant.tid
        if kind == 'b2c':
            return 'https://%s.b2clogin.com/%s/v2.0/' % (tenant.name, tenant.tid)
        raise ValueError(kind)

    # ---- keys
    def key(self, kid=None):
        kid = kid or self.active_kid
        for k in self.keys:
            if k.kid == kid:
                return k
        raise KeyError(kid)

    def add_key(self, kty='RSA', curve='ES256', published=True, active=False,
                issuer=V2_KEY_ISSUER, tenants=None):
        """Create a key; published: in the JWKS; active: default key for mint()."""
        k = SigningKey(kty, curve=curve, issuer=issuer, tenants=tenants, published=published)
        with self.lock:
            self.keys.append(k)
            if active:
                self.active_kid = k.kid
        return k

    def rotate_keys(self, keep_old=True):
        """Publish a new signing key and make it the active one; returns it."""
        with self.lock:
            old = [k for k in self.keys if k.kty == 'RSA']
            k = self.add_key(active=True)
            if not keep_old:
                for o in old:
                    self.keys.remove(o)
        return k

    def remove_key(self, kid):
        with self.lock:
            self.keys = [k for k in self.keys if k.kid != kid]

    def jwks(self, kind='v2', tenant=None):
        with self.lock:
            where = tenant.tid if tenant is not None else 'common'
            keys = [k for k in self.keys if k.published and
                    (k.tenants is None or where in k.tenants)]
            out = [k.jwk(issuer_member=kind in ('v2', 'common')) for k in keys]
        if kind == 'common':
            out += self.real_common_keys
        return {'keys': out}

    # ---- discovery
    def discovery(self, kind, tenant=None, policy=None, segment=None):
        b = self.base
        if kind == 'common':
            iss, seg = V2_KEY_ISSUER, 'common'
        else:
            iss, seg = self.issuer(kind, tenant), segment or tenant.tid
        if kind == 'v1':
            return {
                'token_endpoint': '%s/%s/oauth2/token' % (b, seg),
                'token_endpoint_auth_methods_supported':
                    ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
                'jwks_uri': '%s/%s/discovery/keys' % (b, seg),
                'response_modes_supported': ['query', 'fragment', 'form_post'],
                'subject_types_supported': ['pairwise'],
                'id_token_signing_alg_values_supported': ['RS256'],
                'response_types_supported': ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
                'scopes_supported': ['openid'],
                'issuer': iss,
                'microsoft_multi_refresh_token': True,
                'authorization_endpoint': '%s/%s/oauth2/authorize' % (b, seg),
                'device_authorization_endpoint': '%s/%s/oauth2/devicecode' % (b, seg),
                'http_logout_supported': True,
                'frontchannel_logout_supported': True,
                'end_session_endpoint': '%s/%s/oauth2/logout' % (b, seg),
                'claims_supported': ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr',
                                     'amr', 'nonce', 'email', 'given_name', 'family_name', 'nickname'],
                'check_session_iframe': '%s/%s/oauth2/checksession' % (b, seg),
                'userinfo_endpoint': '%s/%s/openid/userinfo' % (b, seg),
                'kerberos_endpoint': '%s/%s/kerberos' % (b, seg),
                'tenant_region_scope': 'EU',
                'cloud_instance_name': 'microsoftonline.com',
                'cloud_graph_host_name': 'graph.windows.net',
                'msgraph_host': 'graph.microsoft.com',
                'rbac_url': 'https://pas.windows.net',
            }
        if kind == 'b2c':
            pb = '%s/%s/%s' % (b, seg, policy)
            return {
                'issuer': iss,
                'authorization_endpoint': pb + '/oauth2/v2.0/authorize',
                'token_endpoint': pb + '/oauth2/v2.0/token',
                'end_session_endpoint': pb + '/oauth2/v2.0/logout',
                'jwks_uri': pb + '/discovery/v2.0/keys',
                'response_modes_supported': ['query', 'fragment', 'form_post'],
                'response_types_supported': ['code', 'code id_token', 'code token',
                                             'code id_token token', 'id_token', 'id_token token',
                                             'token', 'token id_token'],
                'scopes_supported': ['openid'],
                'subject_types_supported': ['pairwise'],
                'id_token_signing_alg_values_supported': ['RS256'],
                'token_endpoint_auth_methods_supported': ['client_secret_post', 'client_secret_basic'],
                'claims_supported': ['sub', 'idp', 'tfp', 'iss', 'iat', 'exp', 'aud', 'acr', 'nonce', 'auth_time'],
            }
        return {
            'token_endpoint': '%s/%s/oauth2/v2.0/token' % (b, seg),
            'token_endpoint_auth_methods_supported':
                ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
            'jwks_uri': '%s/%s/discovery/v2.0/keys' % (b, seg),
            'response_modes_supported': ['query', 'fragment', 'form_post'],
            'subject_types_supported': ['pairwise'],
            'id_token_signing_alg_values_supported': ['RS256'],
            'response_types_supported': ['code', 'id_token', 'code id_token', 'id_token token'],
            'scopes_supported': ['openid', 'profile', 'email', 'offline_access'],
            'issuer': iss,
            'request_uri_parameter_supported': False,
            'userinfo_endpoint': 'https://graph.microsoft.com/oidc/userinfo',
            'authorization_endpoint': '%s/%s/oauth2/v2.0/authorize' % (b, seg),
            'device_authorization_endpoint': '%s/%s/oauth2/v2.0/devicecode' % (b, seg),
            'http_logout_supported': True,
            'frontchannel_logout_supported': True,
            'end_session_endpoint': '%s/%s/oauth2/v2.0/logout' % (b, seg),
            'claims_supported': ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name',
                                 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat',
                                 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid',
                                 'ver', 'at_hash', 'c_hash', 'email'],
            'kerberos_endpoint': '%s/%s/kerberos' % (b, seg),
            'tenant_region_scope': None if kind == 'common' else 'EU',
            'cloud_instance_name': 'microsoftonline.com',
            'cloud_graph_host_name': 'graph.windows.net',
            'msgraph_host': 'graph.microsoft.com',
            'rbac_url': 'https://pas.windows.net',
        }

    # ---- tokens
    def claims(self, kind='v2', tenant=None, aud=None, roles=(ROLE,), scp=None,
               lifetime=None, now=None, client_id=CLIENT_ID, oid=CLIENT_OID):
        """Claims of an app-only access token as Entra v1/v2 or B2C issues them."""
        t = tenant or self.tenant
        now = int(now if now is not None else time.time())
        life = self.token_lifetime if lifetime is None else lifetime
        c = {}
        if kind == 'v1':
            c['aud'] = aud or self.apis[0].app_id_uri
        else:
            c['aud'] = aud or self.apis[0].client_id
        c['iss'] = self.issuer(kind, t)
        c['iat'] = now
        c['nbf'] = now
        c['exp'] = now + life
        if kind == 'b2c':
            c.update({'sub': oid, 'tid': t.tid, 'azp': client_id, 'azpacr': '1',
                      'oid': oid, 'ver': '2.0'})
        else:
            c['aio'] = b64u(secrets.token_bytes(60))
            if kind == 'v1':
                c.update({'appid': client_id, 'appidacr': '1'})
            else:
                c.update({'azp': client_id, 'azpacr': '1'})
            c['idp'] = 'https://sts.windows.net/%s/' % t.tid
            c['oid'] = oid
            c['rh'] = '0.A' + b64u(secrets.token_bytes(48)) + '.'
        if roles is not None:
            c['roles'] = list(roles)
        if scp is not None:
            c['scp'] = scp
        if kind != 'b2c':
            c['sub'] = oid
            c['tid'] = t.tid
            c['uti'] = b64u(secrets.token_bytes(16))
            c['ver'] = '1.0' if kind == 'v1' else '2.0'
        return c

    def mint(self, kind='v2', claims=None, header=None, key=None, alg=None, lifetime=None,
             roles=(ROLE,), scp=None, tenant=None, aud=None, drop=(), now=None,
             nonce=False, hmac_key=None, client_id=CLIENT_ID):
        """A signed access token.

        claims/header: dicts merged over the defaults (a None value deletes the member);
        drop: claim names to remove; key: SigningKey or kid (default: the active key);
        alg: defaults to RS256 for RSA keys, the curve's ES alg for EC keys;
        nonce: add a Graph-style header nonce (the signature covers its SHA-256, so the
        token as sent does NOT verify — exactly like Microsoft Graph tokens);
        hmac_key: key bytes for HS* algs (default: the public key PEM, for alg confusion).
        """
        if key is None or isinstance(key, str):
            key = self.key(key)
        c = self.claims(kind, tenant, aud, roles, scp, lifetime, now, client_id)
        for k, v in (claims or {}).items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        for k in drop:
            c.pop(k, None)
        alg = alg or key.alg
        if kind == 'b2c':
            h = {'alg': alg, 'kid': key.kid, 'typ': 'JWT'}
        else:
            h = {'typ': 'JWT', 'alg': alg, 'x5t': key.x5t, 'kid': key.kid}
        if nonce:
            h = {'typ': 'JWT', 'nonce': b64u(secrets.token_bytes(32)), 'alg': alg,
                 'x5t': key.x5t, 'kid': key.kid}
        for k, v in (header or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        signed_header = dict(h)
        if nonce:
            signed_header['nonce'] = hashlib.sha256(h['nonce'].encode()).hexdigest()
        if alg.startswith('HS') and hmac_key is None:
            hmac_key = key.public_pem()
        sig = sign(alg, key.private_key,
                   (_json_b64(signed_header) + '.' + _json_b64(c)).encode(), hmac_key)
        return _json_b64(h) + '.' + _json_b64(c) + '.' + b64u(sig)

    def mint_raw(self, header, payload, signature=None, key=None, alg='RS256', hmac_key=None):
        """A token from arbitrary parts: header/payload as dict, str or bytes (bytes/str are
        used verbatim before base64url); signature as bytes (used verbatim), or None to
        sign the result with ``key``/``alg`` (``alg`` may be none or HS*)."""
        si = _json_b64(header) + '.' + _json_b64(payload)
        if signature is None:
            k = key if isinstance(key, SigningKey) else self.key(key)
            if alg.startswith('HS') and hmac_key is None:
                hmac_key = k.public_pem()
            signature = sign(alg, k.private_key, si.encode(), hmac_key)
        return si + '.' + b64u(signature)

    def verify_token(self, token):
        """Verify a token we minted (signature, kid); returns its claims or raises."""
        h, p, si, sig = decode_jwt(token)
        k = self.key(h['kid'])
        if not verify(h['alg'], k.public_key, si, sig):
            raise ValueError('bad signature')
        return p

    # ---- faults, counters, log
    def set_fault(self, endpoint='all', mode='status', status=503, retry_after=None,
                  delay=0.0, size=8 * 1024 * 1024, times=None, body=None):
        with self.lock:
            self.faults[endpoint] = {'mode': mode, 'status': status, 'retry_after': retry_after,
                                     'delay': delay, 'size': size, 'times': times, 'body': body}

    def clear_faults(self, endpoint=None):
        with self.lock:
            if endpoint:
                self.faults.pop(endpoint, None)
            else:
                self.faults.clear()

    def outage(self, on=True, mode='status'):
        """The whole identity platform down (503, or 'close' to drop connections)."""
        if on:
            self.set_fault('all', mode, status=503)
        else:
            self.clear_faults()

    def slow(self, seconds, endpoint='all'):
        self.set_fault(endpoint, 'delay', delay=seconds)

    def reset_counters(self):
        with self.lock:
            self.counts = {e: 0 for e in self.ENDPOINTS}
            self.request_log = []

    def count(self, endpoint, path_contains=None):
        with self.lock:
            if path_contains is None:
                return self.counts[endpoint]
            return sum(1 for r in self.request_log
                       if r['endpoint'] == endpoint and path_contains in r['path'])

    def _take_fault(self, endpoint):
        with self.lock:
            for name in (endpoint, 'all'):
                f = self.faults.get(name)
                if f is None:
                    continue
                if f['times'] is not None:
                    if f['times'] <= 0:
                        continue
                    f['times'] -= 1
                return dict(f)
        return None

    # ---- token endpoint
    def _find_tenant(self, segment):
        for t in self.tenants:
            if t.matches(segment):
                return t
        return None

    def _find_api(self, resource, tenant):
        for a in self.apis:
            if resource in a.identifiers(tenant):
                return a
        return None

    def token_response(self, kind, tenant, form, auth_header, endpoint_url):
        """Handle a client_credentials request; returns (status, dict) or raises TokenError."""
        def one(name):
            v = form.get(name)
            return v[0] if v else None

        def missing(name):
            return TokenError(400, 'invalid_request', 900144,
                              "AADSTS900144: The request body must contain the following "
                              "parameter: '%s'." % name)

        grant = one('grant_type')
        if not grant:
            raise missing('grant_type')
        if grant != 'client_credentials':
            raise TokenError(400, 'unsupported_grant_type', 70003,
                             "AADSTS70003: The app requested an unsupported grant type '%s'."
                             % grant)
        basic_id = basic_secret = None
        if auth_header and auth_header[:6].lower() == 'basic ':
            try:
                raw = base64.b64decode(auth_header[6:].strip()).decode()
                basic_id, _, basic_secret = raw.partition(':')
                basic_id = urllib.parse.unquote_plus(basic_id)
                basic_secret = urllib.parse.unquote_plus(basic_secret)
            except (ValueError, UnicodeDecodeError):
                raise TokenError(401, 'invalid_client', 7000216,
                                 "AADSTS7000216: 'client_assertion', 'client_secret' or "
                                 "'request' is required for the 'client_credentials' grant type.")
        client_id = one('client_id') or basic_id
        if not client_id:
            raise missing('client_id')
        client = self.clients.get(client_id)
        if client is None:
            raise TokenError(400, 'unauthorized_client', 700016,
                             "AADSTS700016: Application with identifier '%s' was not found in "
                             "the directory '%s'. This can happen if the application has not "
                             "been installed by the administrator of the tenant or consented to "
                             "by any user in the tenant. You may have sent your authentication "
                             "request to the wrong tenant." % (client_id, tenant.name + '.onmicrosoft.com'))
        secret = one('client_secret') or basic_secret
        assertion = one('client_assertion')
        if secret is not None:
            if client.secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
                raise TokenError(401, 'invalid_client', 7000215,
                                 "AADSTS7000215: Invalid client secret provided. Ensure the "
                                 "secret being sent in the request is the client secret value, "
                                 "not the client secret ID, for a secret added to app '%s'."
                                 % client_id)
        elif assertion is not None:
            if one('client_assertion_type') != 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer':
                raise TokenError(400, 'invalid_request', 50027,
                                 "AADSTS50027: JWT token is invalid or malformed.")
            self._check_assertion(client, assertion, endpoint_url, tenant)
        else:
            raise TokenError(401, 'invalid_client', 7000218,
                             "AADSTS7000218: The request body must contain the following "
                             "parameter: 'client_assertion' or 'client_secret'.")
        if kind == 'v1':
            resource = one('resource')
            if not resource:
                raise missing('resource')
        else:
            scope = one('scope')
            if not scope:
                raise missing('scope')
            parts = scope.split()
            if len(parts) != 1 or not parts[0].endswith('/.default'):
                raise TokenError(400, 'invalid_scope', 70011,
                                 "AADSTS70011: The provided request must include a 'scope' input "
                                 "parameter. The provided value for the input parameter 'scope' "
                                 "is not valid. The scope %s is not valid." % scope)
            resource = parts[0][:-len('/.default')]
        api = self._find_api(resource, tenant)
        if api is None:
            raise TokenError(400, 'invalid_resource', 500011,
                             "AADSTS500011: The resource principal named %s was not found in the "
                             "tenant named %s. This can happen if the application has not been "
                             "installed by the administrator of the tenant or consented to by any "
                             "user in the tenant. You might have sent your authentication request "
                             "to the wrong tenant." % (resource, tenant.name))
        granted = client.grants.get(api.client_id, [])
        life = self.token_lifetime
        if kind == 'b2c':
            tok = self.mint('b2c', tenant=tenant, aud=api.client_id, roles=None,
                            scp=' '.join(granted) if granted else None, lifetime=life,
                            client_id=client_id, claims={'sub': client.oid, 'oid': client.oid})
        else:
            tok = self.mint(kind, tenant=tenant,
                            aud=resource if kind == 'v1' else api.client_id,
                            roles=granted or None, lifetime=life, client_id=client_id,
                            claims={'sub': client.oid, 'oid': client.oid})
        if kind == 'v1':
            now = int(time.time())
            return 200, {'token_type': 'Bearer', 'expires_in': str(life),
                         'ext_expires_in': str(life), 'expires_on': str(now + life),
                         'not_before': str(now), 'resource': resource, 'access_token': tok}
        return 200, {'token_type': 'Bearer', 'expires_in': life, 'ext_expires_in': life,
                     'access_token': tok}

    def _check_assertion(self, client, assertion, endpoint_url, tenant):
        def fail(code, msg, status=401, error='invalid_client'):
            return TokenError(status, error, code, 'AADSTS%d: %s' % (code, msg))
        if client.cert is None:
            raise fail(700027, 'The certificate with identifier used to sign the client '
                               'assertion is not registered on application.')
        try:
            h, p, si, sig = decode_jwt(assertion)
        except (ValueError, TypeError, UnicodeDecodeError):
            raise fail(50027, 'JWT token is invalid or malformed.', 400, 'invalid_request')
        der = client.cert.public_bytes(serialization.Encoding.DER)
        ok_thumb = (h.get('x5t') == b64u(hashlib.sha1(der).digest()) or
                    h.get('x5t#S256') == b64u(hashlib.sha256(der).digest()))
        if not ok_thumb:
            raise fail(700027, "Client assertion failed signature validation. The key was not "
                               "found (x5t/x5t#S256 header does not match a registered certificate).")
        if h.get('alg') not in ('RS256', 'PS256') or not verify(h['alg'], client.cert.public_key(), si, sig):
            raise fail(700027, 'Client assertion failed signature validation.')
        if p.get('iss') != client.client_id or p.get('sub') != client.client_id:
            raise fail(700021, "Client assertion application identifier doesn't match "
                               "'client_id' parameter.")
        auds = p.get('aud')
        auds = auds if isinstance(auds, list) else [auds]
        t = tenant
        accepted = {endpoint_url,
                    'https://login.microsoftonline.com/%s/oauth2/v2.0/token' % t.tid,
                    'https://login.microsoftonline.com/%s/oauth2/token' % t.tid}
        if not accepted.intersection(a for a in auds if isinstance(a, str)):
            raise fail(70021,
                       'Client assertion audience claim does not match Realm issuer.')
        now = time.time()
        exp, nbf = p.get('exp'), p.get('nbf', 0)
        if not isinstance(exp, (int, float)) or exp < now - 300 or nbf > now + 300:
            raise fail(700024, 'Client assertion is not within its valid time range.')
        jti = p.get('jti')
        with self.lock:
            if not jti or jti in self.used_jti:
                raise fail(700023 if not jti else 7000229,
                           'Client assertion contains an invalid jti (missing or replayed).')
            self.used_jti.add(jti)

    @staticmethod
    def error_body(error, code, description, correlation_id=None):
        trace = str(uuid.uuid4())
        corr = correlation_id or str(uuid.uuid4())
        ts = datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M:%SZ')
        return {'error': error,
                'error_description': '%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s'
                                     % (description, trace, corr, ts),
                'error_codes': [code], 'timestamp': ts, 'trace_id': trace,
                'correlation_id': corr,
                'error_uri': 'https://login.microsoftonline.com/error?code=%d' % code}

    # ---- control ops (HTTP /_control/<op>, JSON in and out)
    def control(self, op, args):
        if op == 'rotate':
            k = self.rotate_keys(keep_old=args.get('keep_old', True))
            return {'kid': k.kid}
        if op == 'fault':
            self.set_fault(**args)
            return {}
        if op == 'clear':
            self.clear_faults(args.get('endpoint'))
            return {}
        if op == 'outage':
            self.outage(args.get('on', True), args.get('mode', 'status'))
            return {}
        if op == 'reset':
            self.reset_counters()
            return {}
        if op == 'counters':
            return dict(self.counts)
        if op == 'log':
            return {'requests': list(self.request_log)}
        if op == 'mint':
            return {'access_token': self.mint(**args)}
        if op == 'info':
            return {'base': self.base, 'tenant_id': self.tid, 'b2c_name': self.tenant.name,
                    'policy': self.tenant.policies[0], 'api_client_id': self.apis[0].client_id,
                    'api_app_id_uri': self.apis[0].app_id_uri,
                    'clients': {c.client_id: c.secret for c in self.clients.values()},
                    'metadata': {k: self.metadata_url(k) for k in ('v2', 'v1', 'b2c', 'common')},
                    'token_endpoint': {k: self.token_url(k) for k in ('v2', 'v1', 'b2c')}}
        raise KeyError(op)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'test-idp'
    sys_version = ''

    def log_message(self, fmt, *args):   # quiet; see idp.request_log
        pass

    @property
    def idp(self):
        return self.server.idp

    def _send(self, status, body, ctype='application/json; charset=utf-8', extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store, no-cache')
        self.send_header('x-ms-request-id', str(uuid.uuid4()))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        self._status = status

    def _route(self):
        """(endpoint, kind, tenant, policy, segment) or None for 404."""
        path = urllib.parse.urlsplit(self.path).path
        parts = [p for p in path.split('/') if p]
        idp = self.idp
        if len(parts) < 2:
            return None
        if parts[0].lower() in ('common', 'organizations'):
            if parts[1:] == ['v2.0', '.well-known', 'openid-configuration']:
                return ('metadata', 'common', None, None, parts[0])
            if parts[1:] == ['discovery', 'v2.0', 'keys']:
                return ('jwks', 'common', None, None, parts[0])
            return None
        tenant = idp._find_tenant(parts[0])
        if tenant is None:
            return None
        rest = parts[1:]
        table = {('v2.0', '.well-known', 'openid-configuration'): ('metadata', 'v2'),
                 ('discovery', 'v2.0', 'keys'): ('jwks', 'v2'),
                 ('oauth2', 'v2.0', 'token'): ('token', 'v2'),
                 ('.well-known', 'openid-configuration'): ('metadata', 'v1'),
                 ('discovery', 'keys'): ('jwks', 'v1'),
                 ('oauth2', 'token'): ('token', 'v1')}
        hit = table.get(tuple(rest))
        if hit:
            return hit + (tenant, None, parts[0])
        if rest and rest[0].lower() in tenant.policies:
            hit = table.get(tuple(rest[1:]))
            if hit and hit[1] == 'v2':
                return (hit[0], 'b2c', tenant, rest[0], parts[0])
        return None

    def _handle(self):
        self._status = None
        idp = self.idp
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        if path.startswith('/_control/'):
            try:
                args = json.loads(body or b'{}')
                if self.command == 'POST' or path.endswith(('/counters', '/log', '/info')):
                    return self._send(200, idp.control(path[len('/_control/'):], args))
            except (KeyError, TypeError, ValueError) as e:
                return self._send(400, {'error': str(e)})
            return self._send(405, {'error': 'POST only'})
        route = self._route()
        entry = {'time': time.time(), 'method': self.command, 'path': self.path,
                 'endpoint': route[0] if route else None,
                 'headers': {k: v for k, v in self.headers.items()}}
        if route and route[0] == 'token':
            form = urllib.parse.parse_qs(body.decode('utf-8', 'replace'), keep_blank_values=True)
            entry['form'] = {k: ('<redacted>' if k in ('client_secret', 'client_assertion') else v[0])
                             for k, v in form.items()}
        with idp.lock:
            if route:
                idp.counts[route[0]] += 1
            idp.request_log.append(entry)
        try:
            self._answer(route, body)
        finally:
            entry['status'] = self._status

    def _answer(self, route, body):
        idp = self.idp
        if route is None:
            return self._send(404, {'error': 'not_found'})
        endpoint, kind, tenant, policy, segment = route
        fault = idp._take_fault(endpoint)
        if fault:
            mode = fault['mode']
            if mode == 'delay':
                if idp._stopping.wait(fault['delay']):
                    return self._drop()
            elif mode == 'close':
                return self._drop()
            elif mode == 'status':
                extra = {}
                if fault['retry_after'] is not None:
                    extra['Retry-After'] = str(fault['retry_after'])
                if endpoint == 'token' and fault['status'] in (429, 500, 503):
                    code = {429: 50196, 500: 90033, 503: 90033}[fault['status']]
                    err = 'temporarily_unavailable' if fault['status'] != 429 else 'server_error'
                    return self._send(fault['status'],
                                      fault['body'] or idp.error_body(
                                          err, code, 'AADSTS%d: A transient error has occurred. '
                                          'Please try again.' % code), extra=extra)
                return self._send(fault['status'], fault['body'] or
                                  '<html><body>Service Unavailable</body></html>',
                                  'text/html', extra)
            elif mode == 'garbage':
                return self._send(200, fault['body'] or b'\x00<html>not json {{{\xff', 'application/json')
            elif mode == 'huge':
                return self._send_huge(fault['size'])
            elif mode == 'trickle':
                return self._send_trickle(fault['delay'], fault['size'])
        if self.command not in ('GET', 'HEAD') and endpoint != 'token':
            return self._send(405, {'error': 'method not allowed'})
        if endpoint == 'metadata':
            return self._send(200, idp.discovery(kind, tenant, policy, segment))
        if endpoint == 'jwks':
            return self._send(200, idp.jwks(kind, tenant))
        # token endpoint
        if self.command != 'POST':
            return self._send(405, idp.error_body(
                'invalid_request', 900561,
                'AADSTS900561: The endpoint only accepts POST requests. Received a GET request.'))
        corr = self.headers.get('client-request-id')
        ctype = (self.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        if ctype != 'application/x-www-form-urlencoded':
            return self._send(400, idp.error_body(
                'invalid_request', 900144,
                "AADSTS900144: The request body must contain the following parameter: "
                "'grant_type'.", corr))
        form = urllib.parse.parse_qs(body.decode('utf-8', 'replace'), keep_blank_values=True)
        endpoint_url = idp.base + urllib.parse.urlsplit(self.path).path
        try:
            status, resp = idp.token_response(kind, tenant, form,
                                              self.headers.get('Authorization'), endpoint_url)
        except TokenError as e:
            extra = {}
            if e.status == 401:
                extra['WWW-Authenticate'] = 'Basic realm="%s"' % tenant.tid
            return self._send(e.status, idp.error_body(e.error, e.code, e.description, corr),
                              extra=extra)
        return self._send(status, resp, extra={'Pragma': 'no-cache'})

    def _drop(self):
        self.close_connection = True
        try:
            import socket
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._status = 'closed'

    def _send_trickle(self, delay, size):
        # a slow-loris answer: headers at once, then a byte at a time
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(size))
        self.end_headers()
        self._status = 'trickle'
        try:
            self.wfile.flush()
            for _ in range(size):
                if self.idp._stopping.wait(delay):
                    break
                self.wfile.write(b' ')
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _send_huge(self, size):
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(size))
        self.end_headers()
        # JSON that never ends: a parser must give up (or a size cap must trip)
        head = b'{"keys":[{"kty":"RSA","n":"'
        chunk = b'A' * 65536
        sent = len(head)
        try:
            self.wfile.write(head)
            while sent < size:
                n = min(len(chunk), size - sent)
                self.wfile.write(chunk[:n])
                sent += n
        except OSError:
            self.close_connection = True
        self._status = 200

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle


# --------------------------------------------------------------------------- CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description='test identity platform on loopback')
    sub = ap.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('serve', help='serve until interrupted')
    s.add_argument('--host', default='127.0.0.1')
    s.add_argument('--port', type=int, default=0)
    s.add_argument('--port-file', help='write the base URL here once listening')
    s.add_argument('--token-lifetime', type=int, default=3599)
    s.add_argument('--ec-key', action='store_true', help='also publish an EC P-256 key')
    s.add_argument('--tls-dir', help='serve https; write ca.pem, server.pem, server.key here')
    s.add_argument('--tenant-id', default=DEFAULT_TENANT_ID)
    s.add_argument('--b2c-name', default=DEFAULT_B2C_NAME)
    s.add_argument('--client-id', default=CLIENT_ID)
    s.add_argument('--client-secret', default=CLIENT_SECRET)
    s.add_argument('--api-client-id', default=API_CLIENT_ID)
    s.add_argument('--client-without-role', metavar='ID:SECRET', action='append', default=[],
                   help='also register a client that was granted no app role on the API')
    m = sub.add_parser('mint', help='print a token signed by a fresh key (self-contained)')
    m.add_argument('--kind', default='v2', choices=['v1', 'v2', 'b2c'])
    args = ap.parse_args(argv)
    if args.cmd == 'mint':
        print(TestIdP().mint(args.kind))
        return 0
    tls = make_tls_files(args.tls_dir)[1:] if args.tls_dir else None
    idp = TestIdP(args.host, args.port, token_lifetime=args.token_lifetime, tls=tls,
                  ec_key=args.ec_key, tenants=[Tenant(args.tenant_id, args.b2c_name)],
                  apis=[ApiApp(args.api_client_id)],
                  clients=[Client(args.client_id, args.client_secret,
                                  grants={args.api_client_id: [ROLE]})] +
                          [Client(*c.split(':', 1), grants={args.api_client_id: []},
                                  oid=str(uuid.uuid4()))
                           for c in args.client_without_role]).start()
    print(idp.base, flush=True)
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(idp.base + '\n')
        os.replace(tmp, args.port_file)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        idp.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
