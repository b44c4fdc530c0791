/* SPDX-License-Identifier: Apache-2.0 */
/* The per-request state of mod_b2c_auth: what authentication found, kept
 * in the request's module config for authorization, the challenge and the
 * fixups. In a file of its own so that authz_providers.c and
 * auth_response.c reach it without calling into mod_b2c_auth.c. */
#ifndef B2C_AUTH_REQUEST_H
#define B2C_AUTH_REQUEST_H

#include <httpd.h>
#include <jansson.h>

#include "b2c_claims.h"

/* What authentication found, for authorization, the challenge and fixups. */
typedef enum {
    B2C_REQ_NO_TOKEN = 0, /* no Bearer credentials: plain challenge */
    B2C_REQ_INVALID_REQUEST,
    B2C_REQ_INVALID_TOKEN,
    B2C_REQ_VALID
} b2c_request_outcome_t;

typedef struct {
    b2c_request_outcome_t outcome;
    const char *error_description;     /* ours, never token bytes */
    json_t *claims;                    /* VALID: a reference held by r->pool */
    const b2c_claim_export_t *exports; /* VALID: rendered once per token */
    int nexports;
    int insufficient_scope; /* authz denied a valid token */
    int headers_exported;   /* X-B2C-Claim-* put in headers_in */
} b2c_auth_request_t;

/* r's state; with create, made when missing. Without create, a
 * sub-request or internal redirect finds its parent's state when it
 * runs under the same per-directory configuration. */
b2c_auth_request_t *b2c_auth_request_get(request_rec *r, int create);

/* Is r under AuthType Bearer (ours to authenticate)? */
int b2c_auth_is_bearer_request(request_rec *r);

#endif
