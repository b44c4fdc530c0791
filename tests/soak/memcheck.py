#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""valgrind memcheck of both modules in a real httpd: one API httpd (mod_b2c_auth) and
one gateway httpd (mod_b2c_client -> the API), each a single process (`apache2 -X`)
under valgrind, serve a scripted mix of requests and are then stopped cleanly (SIGTERM).

    /usr/bin/python3 tests/soak/memcheck.py --log-dir DIR [--suppressions tests/valgrind.supp]
        [--rounds N]

Env: B2C_MODULE_DIR (the modules to check: build them WITHOUT sanitizers; default the
repo root), APACHE_BIN, APACHE_MODULES. Run by tests/asan_httpd.sh.

The mix (per round): valid tokens (v2, v1 metadata, scope, b2c-claim, claims headers,
.htaccess metadata), tokens without the role (403), bad signatures, unknown kids
(signed by an unpublished key, which makes the module refetch the keys), alg none and
HS256 confusion, expired, malformed headers and no token; after the first round the
IdP rotates its keys, so tokens of the new key make the module pick up the new JWKS.
Through the gateway: a client with a secret, one with a certificate (private_key_jwt),
one whose secret the IdP refuses (503), and a forward-proxy-like location without
B2CClientToken.

Passes (exit 0) when every answer had its expected status and each valgrind log has
"ERROR SUMMARY: 0 errors" and no definitely-lost block. Prints each failing log's
first error blocks. Last line: `memcheck: PASS ...` or `memcheck: FAIL ...`.
"""

import argparse
import glob
import os
import re
import secrets
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import soak  # noqa: E402
from soak import AUD, ROLE, Server, idpmod  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
import http.client  # noqa: E402


def get(port, path, token=None, headers=None, timeout=60):
    h = dict(headers or {})
    if token is not None:
        h['Authorization'] = 'Bearer ' + token
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        c.request('GET', path, headers=h)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def valgrind_cmd(log_dir, name, supp):
    cmd = ['valgrind', '--tool=memcheck', '--leak-check=full',
           '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
           '--num-callers=40', '--child-silent-after-fork=yes', '--trace-children=no',
           # httpd dlcloses the modules at exit, before the leak check: keep their symbols
           '--keep-debuginfo=yes',
           '--gen-suppressions=all', '--log-file=%s/%s-%%p.log' % (log_dir, name)]
    if supp:
        cmd.append('--suppressions=%s' % supp)
    return cmd


def api_config(idp, htdocs, token_cache=50):
    md = idp.metadata_url('v2')
    base = ['AuthType Bearer', 'B2CAuthMetadataURL %s' % md,
            'B2CAuthAudience %s api://%s' % (AUD, AUD)]
    locs = {
        'role': base + ['Require role %s' % ROLE],
        'scope': ['AuthType Bearer',
                  'B2CAuthMetadataURL %s' % idp.metadata_url('v2'),
                  'B2CAuthAudience %s' % AUD, 'Require scope Data.Read'],
        'v1': ['AuthType Bearer', 'B2CAuthMetadataURL %s' % idp.metadata_url('v1'),
               'B2CAuthAudience api://%s' % AUD,
               'B2CAuthIssuer %s %s' % (idp.issuer('v1', idp.tenant), idp.issuer('v2', idp.tenant)),
               'Require role %s' % ROLE],
        'claim': base + ['B2CAuthRemoteUser azp', 'B2CAuthClaimsHeaders On',
                         '<RequireAll>', 'Require role %s' % ROLE,
                         'Require b2c-claim azp %s' % idpmod.CLIENT_ID, '</RequireAll>'],
        'ps': base + ['B2CAuthAlgorithms PS256 RS256', 'Require valid-user'],
    }
    # kid refresh interval 1 s: the rotated key of round 2 is picked up although the
    # forged kids of round 1 used the refetch
    out = ['B2CAuthMetadataAllow %s/' % idp.base, 'B2CAuthTokenCacheEntries %d' % token_cache,
           'B2CAuthKidRefreshInterval 1']
    for name, lines in locs.items():
        out.append('<Location /api/%s>\n    %s\n</Location>' % (name, '\n    '.join(lines)))
    # .htaccess: the shared-hosting path (metadata allow-list checked per request)
    hta = os.path.join(htdocs, 'hta')
    os.makedirs(hta, exist_ok=True)
    os.chmod(hta, 0o755)
    with open(os.path.join(hta, 'r'), 'w') as f:
        f.write('ok')
    with open(os.path.join(hta, '.htaccess'), 'w') as f:
        f.write('\n'.join(base + ['Require role %s' % ROLE]) + '\n')
    for fn in ('r', '.htaccess'):
        os.chmod(os.path.join(hta, fn), 0o644)
    out.append('<Directory "%s">\n    AllowOverride AuthConfig\n</Directory>' % hta)
    for name in locs:
        d = os.path.join(htdocs, 'api', name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        with open(os.path.join(d, 'r'), 'w') as f:
            f.write('ok')
        os.chmod(os.path.join(d, 'r'), 0o644)
    return '\n'.join(out)


def gw_config(idp, gw, api_port, cert_cid):
    sd = os.path.join(gw.root, 'secrets')
    os.makedirs(sd, exist_ok=True)
    os.chmod(sd, 0o700)
    good = gw.secret_file(idpmod.CLIENT_SECRET)
    bad = os.path.join(sd, 'wrong.secret')
    with open(bad, 'w') as f:
        f.write('not-the-secret-' + secrets.token_hex(8))
    os.chmod(bad, 0o600)
    key, cert = idp.memcheck_cert
    cf, kf = os.path.join(sd, 'c.crt'), os.path.join(sd, 'c.key')
    with open(cf, 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kf, 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(kf, 0o600)
    te = idp.token_url('v2')
    scope = 'api://%s/.default' % AUD
    return """<B2CClient secret>
    B2CTokenEndpoint {te}
    B2CClientId {cid}
    B2CClientSecret file:{good}
    B2CScope {scope}
</B2CClient>
<B2CClient basic>
    B2CAuthority {md}
    B2CClientId {cid}
    B2CClientSecret file:{good}
    B2CClientAuthMethod client_secret_basic
    B2CScope {scope}
</B2CClient>
<B2CClient cert>
    B2CTokenEndpoint {te}
    B2CClientId {ccid}
    B2CClientCertificate {cf} {kf}
    B2CScope {scope}
</B2CClient>
<B2CClient wrong>
    B2CTokenEndpoint {te}
    B2CClientId {cid}
    B2CClientSecret file:{bad}
    B2CScope {scope}
</B2CClient>
<Location /gw/secret/>
    ProxyPass http://127.0.0.1:{port}/api/role/
    B2CClientToken secret
</Location>
<Location /gw/basic/>
    ProxyPass http://127.0.0.1:{port}/api/claim/
    B2CClientToken basic
</Location>
<Location /gw/cert/>
    ProxyPass http://127.0.0.1:{port}/api/ps/
    B2CClientToken cert
</Location>
<Location /gw/hdr/>
    ProxyPass http://127.0.0.1:{port}/api/role/
    B2CClientToken secret
    B2CClientTokenHeader X-Api-Token
</Location>
<Location /gw/wrong/>
    ProxyPass http://127.0.0.1:{port}/api/role/
    B2CClientToken wrong
</Location>
<Location /gw/none/>
    ProxyPass http://127.0.0.1:{port}/api/role/
</Location>""".format(te=te, md=idp.metadata_url('v2'), cid=idpmod.CLIENT_ID, good=good,
                      scope=scope, ccid=cert_cid, cf=cf, kf=kf, bad=bad, port=api_port)


def request_mix(idp, api, gw):
    """(label, port, path, token, headers, expected status) for one round."""
    t = idp.tenant
    now = time.time()
    valid = idp.mint('v2', roles=[ROLE])
    kid = idpmod.b64u(secrets.token_bytes(20))
    forged = idp.mint_raw({'typ': 'JWT', 'alg': 'RS256', 'kid': kid},
                          idp.claims('v2'), signature=secrets.token_bytes(256))
    bad_sig = valid.rsplit('.', 1)[0] + '.' + idpmod.b64u(secrets.token_bytes(256))
    A, G = api.port, gw.port
    mix = [
        ('valid', A, '/api/role/r', valid, None, 200),
        ('valid again (cache)', A, '/api/role/r', valid, None, 200),
        ('valid other token', A, '/api/role/r', idp.mint('v2', roles=[ROLE]), None, 200),
        ('v1 token', A, '/api/v1/r', idp.mint('v1', roles=[ROLE]), None, 200),
        ('scope', A, '/api/scope/r', idp.mint('v2', roles=None, scp='Data.Read'), None, 200),
        ('claims + headers', A, '/api/claim/r', valid, {'X-B2C-Claim-roles': 'spoof'}, 200),
        ('PS256', A, '/api/ps/r', idp.mint('v2', alg='PS256'), None, 200),
        ('.htaccess', A, '/hta/r', valid, None, 200),
        ('no role', A, '/api/role/r', idp.mint('v2', roles=['other']), None, 403),
        ('bad signature', A, '/api/role/r', bad_sig, None, 401),
        ('unknown kid, random sig', A, '/api/role/r', forged, None, 401),
        ('unpublished key', A, '/api/role/r', idp.mint('v2', key=idp.unpublished), None, 401),
        ('alg none', A, '/api/role/r', idp.mint('v2', alg='none'), None, 401),
        ('HS256 confusion', A, '/api/role/r', idp.mint('v2', alg='HS256'), None, 401),
        ('expired', A, '/api/role/r', idp.mint('v2', lifetime=600, now=now - 7200), None, 401),
        ('wrong audience', A, '/api/role/r', idp.mint('v2', aud='someone-else'), None, 401),
        ('wrong tenant iss', A, '/api/role/r',
         idp.mint('v2', claims={'iss': 'https://login.microsoftonline.com/%s/v2.0'
                                % '00000000-0000-0000-0000-000000000000'}), None, 401),
        ('garbage', A, '/api/role/r', 'a.b.c', None, 401),
        ('huge', A, '/api/role/r', 'e' * 7000 + '.' + 'f' * 900 + '.g', None, 401),
        ('malformed', A, '/api/role/r', None, {'Authorization': 'Bearer a b'}, 400),
        ('basic scheme', A, '/api/role/r', None, {'Authorization': 'Basic dTpw'}, 401),
        ('no token', A, '/api/role/r', None, None, 401),
        ('gw secret', G, '/gw/secret/r', None, None, 200),
        ('gw secret, caller forged token', G, '/gw/secret/r', forged, None, 200),
        ('gw basic + discovery', G, '/gw/basic/r', None, None, 200),
        ('gw certificate', G, '/gw/cert/r', None, None, 200),
        ('gw other header, caller token kept', G, '/gw/hdr/r', valid,
         {'X-Api-Token': 'Bearer spoof'}, 200),
        ('gw other header, no caller token', G, '/gw/hdr/r', None, None, 401),
        ('gw refused secret', G, '/gw/wrong/r', None, None, 503),
        ('gw without client', G, '/gw/none/r', valid, None, 200),
        ('gw without client, no token', G, '/gw/none/r', None, None, 401),
    ]
    _ = t
    return mix


def check_log(path):
    """(ok, summary line, error excerpt) of one valgrind log."""
    with open(path, errors='replace') as f:
        text = f.read()
    m = re.search(r'ERROR SUMMARY: (\d+) errors', text)
    errors = int(m.group(1)) if m else None
    dl = re.search(r'definitely lost: ([\d,]+) bytes in ([\d,]+) blocks', text)
    lost_blocks = int(dl.group(2).replace(',', '')) if dl else 0
    if not dl and 'All heap blocks were freed' not in text and 'LEAK SUMMARY' not in text:
        lost_blocks = None      # no leak check ran: the process did not exit normally
    ok = errors == 0 and lost_blocks == 0
    summary = '%s: ERROR SUMMARY %s, definitely lost blocks %s' % (
        os.path.basename(path), errors, lost_blocks)
    excerpt = ''
    if not ok:
        blocks = re.split(r'\n==\d+== \n', text)
        bad = [b for b in blocks if re.search(
            r'Invalid|uninitialised|definitely lost in|Mismatched|overlap|free\(\)', b)]
        excerpt = '\n---\n'.join(bad[:6])[:12000]
    return ok, summary, excerpt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--log-dir', required=True)
    ap.add_argument('--suppressions', default=os.path.join(REPO, 'tests', 'valgrind.supp'))
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--token-cache', type=int, default=50,
                    help='B2CAuthTokenCacheEntries of the API (0: no per-process cache)')
    args = ap.parse_args(argv)

    os.makedirs(args.log_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='b2c-memcheck-')
    os.chmod(workdir, 0o755)
    failures = []
    n_requests = 0
    idp = api = gw = None
    try:
        idp = soak.start_idp()
        idp.memcheck_cert = idpmod.make_client_certificate()
        cert_cid = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9'
        idp.clients[cert_cid] = idpmod.Client(cert_cid, secret=None,
                                              cert=idp.memcheck_cert[1])
        api = Server(workdir, 'api', soak.API_MODULES + ['authz_user'], '', procs=1,
                     threads=8, one_process=True, loglevel='warn b2c_auth:debug',
                     prefix=valgrind_cmd(args.log_dir, 'api', args.suppressions))
        api.body = api_config(idp, os.path.join(api.root, 'htdocs'), args.token_cache)
        api.start(timeout=180)
        gw = Server(workdir, 'gw', soak.GW_MODULES, '', procs=1, threads=8,
                    one_process=True, loglevel='warn b2c_client:trace1',
                    prefix=valgrind_cmd(args.log_dir, 'gw', args.suppressions))
        gw.body = gw_config(idp, gw, api.port, cert_cid)
        gw.start(timeout=180)
        for rnd in range(args.rounds):
            if rnd == 1:
                idp.rotate_keys()         # tokens of the new key: a kid refetch
                time.sleep(1.5)
            for label, port, path, tok, hdrs, want in request_mix(idp, api, gw):
                try:
                    got = get(port, path, tok, hdrs)
                except OSError as e:
                    got = 'error %s' % e
                n_requests += 1
                if got != want:
                    failures.append('round %d %s: %s -> %s, expected %s' % (
                        rnd, label, path, got, want))
        print('memcheck: %d requests sent, stopping the servers' % n_requests, flush=True)
    except Exception as e:                                      # noqa: BLE001
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        for s in (gw, api):
            if s is not None:
                rc = s.stop(timeout=180)
                if rc not in (0, None):
                    failures.append('%s: httpd exit status %s' % (s.name, rc))
        if idp is not None:
            idp.stop()
        if failures and api is not None:
            sys.stdout.write('--- api error.log (tail)\n%s\n--- gw error.log (tail)\n%s\n' % (
                api.logs()[-3000:], gw.logs()[-3000:] if gw else ''))
        if args.keep:
            print('memcheck: kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    logs = sorted(glob.glob(os.path.join(args.log_dir, '*.log')))
    if not logs:
        failures.append('no valgrind logs in %s' % args.log_dir)
    for path in logs:
        ok, summary, excerpt = check_log(path)
        print('memcheck: ' + summary)
        if not ok:
            failures.append(summary)
            print(excerpt)
    if failures:
        print('memcheck: FAIL %d requests; %s' % (n_requests, '; '.join(failures)))
        return 1
    print('memcheck: PASS %d requests, %d processes: 0 errors, 0 definitely lost' % (
        n_requests, len(logs)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
