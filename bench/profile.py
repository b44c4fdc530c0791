#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Profile mod_b2c_auth's hot path: one httpd process (-X) under valgrind --tool=callgrind,
collecting only inside ap_process_[async_]request (start-up and connection handling are left
out), for N requests with one valid token (default 500) or with N distinct tokens (--cold),
annotated. A warm-up request first fetches the metadata and keys; the counters are zeroed
when it parses the key set (--zero-before=b2c_jwks_parse), so only the rest of that request
(one validation) is counted besides the N requests.

Run:  /usr/bin/python3 bench/profile.py [--requests N] [--cold] [--out DIR]
Needs valgrind (callgrind_control, callgrind_annotate). Loopback only; httpd and the
test identity platform are started and stopped by this script.
"""

import argparse
import glob
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--requests', type=int, default=500)
    ap.add_argument('--cold', action='store_true', help='a distinct token per request')
    ap.add_argument('--plain', action='store_true', help='no auth module (the baseline)')
    ap.add_argument('--out', default=os.path.join(HERE, 'results'))
    ap.add_argument('--top', type=int, default=40)
    a = ap.parse_args(argv)

    idp = bench.idpmod.TestIdP()
    tokens = ([idp.mint('v2', roles=[bench.ROLE], lifetime=7200) for _ in range(a.requests)]
              if a.cold else [idp.mint('v2', roles=[bench.ROLE], lifetime=7200)] * a.requests)
    warm = idp.mint('v2', roles=[bench.ROLE], lifetime=7200)
    idp.start()
    workdir = tempfile.mkdtemp(prefix='b2c-profile-')
    os.chmod(workdir, 0o755)
    mods, body = (bench.cfg_plain if a.plain else bench.cfg_b2c)(idp)
    s = bench.Server(workdir, 'profile', body)
    s.write(mods)
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, 'callgrind-%s.out' % ('plain' if a.plain else
                                                     'cold' if a.cold else 'hot'))
    for f in glob.glob(out + '*'):
        os.unlink(f)
    open(out, 'w').close()
    if bench.IS_ROOT:               # httpd -X writes it as www-data
        import pwd
        w = pwd.getpwnam('www-data')
        os.chown(out, w.pw_uid, w.pw_gid)
    vg = subprocess.Popen(['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
                           '--collect-atstart=no', '--toggle-collect=ap_process_request',
                           '--toggle-collect=ap_process_async_request',
                           # the warm-up's key fetch (and libcurl's loading) is left out
                           '--zero-before=b2c_jwks_parse',
                           bench.APACHE_BIN, '-X', '-f', s.conf_path],
                          stdout=subprocess.DEVNULL, stderr=open(out + '.log', 'w'),
                          start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if bench.http_get(s.port, bench.PATH, warm, timeout=30) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or vg.poll() is not None:
                raise RuntimeError('httpd under valgrind did not come up:\n'
                                   + s.error_log()[-2000:])
            time.sleep(0.5)
        conn = http.client.HTTPConnection('127.0.0.1', s.port, timeout=30)
        bad = 0
        for t in tokens:
            conn.request('GET', bench.PATH, headers={'Authorization': 'Bearer ' + t})
            r = conn.getresponse()
            r.read()
            bad += r.status != 200
        conn.close()
    finally:
        if vg.poll() is None:
            vg.send_signal(signal.SIGTERM)
            try:
                vg.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(vg.pid, signal.SIGKILL)
                vg.wait(5)
        idp.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    dump = out
    if not os.path.exists(dump) or not os.path.getsize(dump):
        print('no callgrind output in %s' % out)
        return 1
    print('%d requests (%d not 200); profile %s' % (len(tokens), bad, dump))
    ann = subprocess.run(['callgrind_annotate', '--inclusive=yes', dump],
                         stdout=subprocess.PIPE, text=True).stdout
    excl = subprocess.run(['callgrind_annotate', dump], stdout=subprocess.PIPE,
                          text=True).stdout
    with open(dump + '.inclusive.txt', 'w') as f:
        f.write(ann)
    with open(dump + '.exclusive.txt', 'w') as f:
        f.write(excl)
    for title, text in (('inclusive', ann), ('exclusive', excl)):
        lines = text.splitlines()
        print('---- %s (top %d)' % (title, a.top))
        start = next((i for i, x in enumerate(lines) if 'file:function' in x), 0)
        for x in lines[:start + a.top + 1]:
            if 'PROGRAM TOTALS' in x or (x and x.strip()[:1].isdigit()):
                print(x[:160])
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
