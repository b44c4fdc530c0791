/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 6750 §3 responses. mod_authz_core answers a denied, authenticated
 * user with 401 and calls ap_note_auth_failure() (unless
 * AuthzSendForbiddenOnFailure is on, when it answers 403 itself). We write
 * the challenge there, and for a valid token that lacked the required role
 * turn the 401 into the 403 RFC 6750 asks for with an error filter: only at
 * that point has every <RequireAny> branch had its say. */
#include "auth_response.h"
#include "auth_request.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#define FORBIDDEN_FILTER "B2C_AUTH_FORBIDDEN"

/* Realm from AuthName, escaped for a quoted-string. */
static const char *realm(request_rec *r)
{
    const char *name = ap_auth_name(r);
    const char *s;
    char *out, *o;

    if (!name || !*name)
        name = "api";
    out = o = apr_palloc(r->pool, 2 * strlen(name) + 1);
    for (s = name; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = (*s < 0x20 || *s == 0x7f) ? ' ' : *s;
    }
    *o = '\0';
    return out;
}

void b2c_auth_set_challenge(request_rec *r, const char *error,
                            const char *description)
{
    const char *v = apr_psprintf(r->pool, "Bearer realm=\"%s\"", realm(r));
    if (error)
        v = apr_psprintf(r->pool, "%s, error=\"%s\"", v, error);
    if (description) /* ours, from a fixed vocabulary: no quotes inside */
        v = apr_psprintf(r->pool, "%s, error_description=\"%s\"", v,
                         description);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", v);
}

int b2c_auth_note_failure(request_rec *r, const char *auth_type)
{
    b2c_auth_request_t *st;

    if (strcasecmp(auth_type, B2C_AUTH_TYPE))
        return DECLINED;
    st = b2c_auth_request_get(r, 0);
    if (!st || st->outcome == B2C_REQ_NO_TOKEN)
        b2c_auth_set_challenge(r, NULL, NULL);
    else if (st->outcome == B2C_REQ_INVALID_REQUEST)
        b2c_auth_set_challenge(r, "invalid_request", st->error_description);
    else if (st->outcome == B2C_REQ_INVALID_TOKEN)
        b2c_auth_set_challenge(r, "invalid_token", st->error_description);
    else {
        /* Called by mod_authz_core after the whole Require tree denied a
         * request whose token was valid. */
        st->insufficient_scope = 1;
        b2c_auth_set_challenge(r, "insufficient_scope",
                               "the token lacks the role, scope or claim "
                               "this resource requires");
    }
    return OK;
}

void b2c_auth_insert_error_filter(request_rec *r)
{
    b2c_auth_request_t *st = b2c_auth_request_get(r, 0);
    if (st && st->insufficient_scope && r->status == HTTP_UNAUTHORIZED)
        ap_add_output_filter(FORBIDDEN_FILTER, NULL, r, r->connection);
}

static const char forbidden_body[] =
    "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n"
    "<html><head>\n<title>403 Forbidden</title>\n</head><body>\n"
    "<h1>Forbidden</h1>\n<p>The access token does not grant access to this "
    "resource.</p>\n</body></html>\n";

/* Replaces httpd's 401 error page with a 403 one: sets the status before
 * the HTTP header filter runs and swaps the body. */
static apr_status_t forbidden_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *e = APR_BRIGADE_FIRST(bb);
    int eos = 0;

    while (e != APR_BRIGADE_SENTINEL(bb)) {
        apr_bucket *next = APR_BUCKET_NEXT(e);
        if (APR_BUCKET_IS_EOS(e))
            eos = 1;
        else if (!APR_BUCKET_IS_METADATA(e))
            apr_bucket_delete(e);
        e = next;
    }
    if (!f->ctx) {
        f->ctx = f;
        r->status = HTTP_FORBIDDEN;
        r->status_line = NULL;
        APR_BRIGADE_INSERT_HEAD(
            bb, apr_bucket_immortal_create(forbidden_body,
                                           sizeof(forbidden_body) - 1,
                                           bb->bucket_alloc));
    }
    if (eos)
        ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void b2c_auth_register_response_filter(void)
{
    ap_register_output_filter(FORBIDDEN_FILTER, forbidden_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}
