"""Every source file says its licence (Apache-2.0, as LICENSE and
debian/copyright state) in an SPDX line near its top."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = 'SPDX-License-Identifier: Apache-2.0'
SOURCE_EXT = ('.c', '.h', '.py', '.sh', '.lua')
SOURCE_NAMES = ('dev', 'Makefile.am', 'configure.ac', 'debian/rules', '.ci/run')


def tracked_sources():
    out = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:  # a release tarball has no git: list the tree
        names = [os.path.relpath(os.path.join(d, f), REPO)
                 for d, _, fs in os.walk(REPO) for f in fs]
    else:
        names = out.stdout.split()
    for f in names:
        if f.startswith(('tests/data/', 'tests/fuzz/corpus/', 'build/')):
            continue
        if f.endswith(SOURCE_EXT) or f in SOURCE_NAMES:
            if os.path.exists(os.path.join(REPO, f)):
                yield f


def test_every_source_file_has_an_spdx_line():
    missing = []
    for f in tracked_sources():
        with open(os.path.join(REPO, f), errors='replace') as fh:
            if TAG not in fh.read(400):
                missing.append(f)
    assert not missing, 'no SPDX line in: ' + ', '.join(missing)


def test_licence_file_is_apache_2():
    with open(os.path.join(REPO, 'LICENSE')) as fh:
        assert 'Apache License' in fh.read(200)
    with open(os.path.join(REPO, 'debian', 'copyright')) as fh:
        assert 'Apache-2.0' in fh.read()
