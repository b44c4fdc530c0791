/* SPDX-License-Identifier: Apache-2.0 */
/* Runs every unit-test suite of common/ in one Check runner. Keys are
 * generated once here, before Check forks per test. */
#include "unit.h"

#include <apr_general.h>
#include <stdlib.h>

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    tk_init();
    sr = srunner_create(util_suite());
    srunner_add_suite(sr, jwks_suite());
    srunner_add_suite(sr, jwt_suite());
    srunner_add_suite(sr, validate_suite());
    srunner_add_suite(sr, claims_suite());
    srunner_add_suite(sr, discovery_suite());
    srunner_add_suite(sr, token_client_suite());
    srunner_add_suite(sr, bearer_suite());
    srunner_add_suite(sr, token_cache_suite());
    srunner_add_suite(sr, url_suite());
    srunner_add_suite(sr, authority_backoff_suite());
    srunner_add_suite(sr, single_flight_suite());
    srunner_add_suite(sr, key_policy_suite());
    srunner_add_suite(sr, seal_suite());
    srunner_add_suite(sr, state_file_suite());
    srunner_add_suite(sr, stopping_suite()); /* last */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tk_cleanup();
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
