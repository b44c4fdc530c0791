# SPDX-License-Identifier: Apache-2.0
"""Where the test servers come from, for the httpd suites (tests/httpd/conftest.py), the
benchmark (bench/bench.py) and the soak (tests/soak/soak.py): the httpd binary, its
module folder, the modules under test and whether we run as root (then httpd's children
run as www-data). Each is read from the environment once, here.

Env: APACHE_BIN (default /usr/sbin/apache2), APACHE_MODULES (default
     /usr/lib/apache2/modules), B2C_MODULE_DIR (folder of the built .so files; default
     the repo root).
"""

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APACHE_BIN = os.environ.get('APACHE_BIN', '/usr/sbin/apache2')
APACHE_MODULES = os.environ.get('APACHE_MODULES', '/usr/lib/apache2/modules')
MODULE_DIR = os.environ.get('B2C_MODULE_DIR', REPO)
AUTH_MODULE = os.path.join(MODULE_DIR, 'mod_b2c_auth.so')
CLIENT_MODULE = os.path.join(MODULE_DIR, 'mod_b2c_client.so')
IS_ROOT = os.geteuid() == 0
