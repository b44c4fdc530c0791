/* The per-request state of mod_b2c_auth (see auth_request.h). */
#include "mod_b2c_auth.h"

#include <http_config.h>

b2c_auth_request_t *b2c_auth_request_get(request_rec *r, int create)
{
    b2c_auth_request_t *st =
        ap_get_module_config(r->request_config, &b2c_auth_module);
    request_rec *up;

    /* Sub-requests and internal redirects under the same configuration
     * skip authentication and inherit the user: inherit the claims too. */
    for (up = r->main ? r->main : r->prev; !st && !create && up;
         up = up->main ? up->main : up->prev)
        st = ap_get_module_config(up->request_config, &b2c_auth_module);
    if (!st && create) {
        st = apr_pcalloc(r->pool, sizeof(*st));
        ap_set_module_config(r->request_config, &b2c_auth_module, st);
    }
    return st;
}
