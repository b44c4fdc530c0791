/* SPDX-License-Identifier: Apache-2.0 */
/* The modules' version line and Server header part (see b2c_version.h). */
#include "b2c_version.h"
#include "b2c_glue_module.h"

#include <apr_strings.h>
#include <http_core.h>

void b2c_version_announce(apr_pool_t *pconf, server_rec *s, const char *name,
                          int server_tokens, const char *logno)
{
    /* not in the first of httpd's two configuration passes */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "%s%s " B2C_VERSION " loaded", logno, name);
    if (server_tokens)
        ap_add_version_component(
            pconf, apr_pstrcat(pconf, name, "/" B2C_VERSION, NULL));
}
