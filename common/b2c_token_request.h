/* SPDX-License-Identifier: Apache-2.0 */
/* One OAuth 2.0 client-credentials token request (RFC 6749 §4.4) the way
 * MSAL's AcquireTokenForClient makes it against the Microsoft identity
 * platform: the request form, client authentication (secret in the body or
 * in HTTP Basic, or a private_key_jwt assertion per RFC 7523), the answer
 * and its errors. No httpd headers. */
#ifndef B2C_TOKEN_REQUEST_H
#define B2C_TOKEN_REQUEST_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "b2c_client_cert.h"
#include "b2c_http.h"

typedef enum {
    B2C_CLIENT_AUTH_SECRET_POST = 0, /* client_secret in the form (default) */
    B2C_CLIENT_AUTH_SECRET_BASIC,    /* HTTP Basic, RFC 6749 §2.3.1 encoding */
    B2C_CLIENT_AUTH_PRIVATE_KEY_JWT  /* signed client assertion */
} b2c_client_auth_t;

typedef struct {
    const char *token_endpoint;
    const char *client_id;
    const char *secret;            /* for the two secret methods */
    const b2c_client_cert_t *cert; /* for private_key_jwt */
    b2c_client_auth_t auth;
    const apr_array_header_t *scopes; /* of const char *, joined by spaces */
} b2c_token_request_t;

/* The urlencoded form body, and (for Basic) the Authorization header value
 * in *basic (else NULL). Fields: grant_type, client_id (also with Basic, as
 * MSAL sends it), scope (left out when scopes is NULL or empty; each scope
 * must be an RFC 6749 §3.3 scope-token), then client_secret or
 * client_assertion_type + client_assertion. APR_EINVAL with *err for a
 * missing client id, secret or certificate, or a bad scope. */
apr_status_t b2c_token_request_form(apr_pool_t *p,
                                    const b2c_token_request_t *req,
                                    long long now, const char **form,
                                    const char **basic, const char **err);

/* What an answer of the token endpoint means. */
typedef enum {
    B2C_FETCH_OK = 0,
    B2C_FETCH_RETRYABLE, /* network error, timeout, 408, 429, 5xx, 1xx,
                              a 2xx that is not a usable token, or the
                              errors temporarily_unavailable/server_error */
    B2C_FETCH_REFUSED    /* other 4xx, and 3xx (redirects are not
                              followed): the config is wrong */
} b2c_token_outcome_t;

typedef struct {
    b2c_token_outcome_t outcome;
    const char *access_token;      /* OK */
    long long expires_in;          /* OK: seconds, 1 .. one year */
    const char *error;             /* e.g. "invalid_client" (sanitised); never
                                      NULL unless OK: "unreachable",
                                      "invalid_response" (bad 2xx),
                                      "invalid_request" (bad request struct,
                                      from b2c_token_fetch), or "http_503"
                                      when the body names no error */
    const char *error_code;        /* e.g. "AADSTS7000215", or NULL */
    const char *error_description; /* first line, sanitised, <= 300 chars */
    long long retry_after;         /* seconds from Retry-After, or -1 */
} b2c_token_result_t;

/* Interpret an HTTP answer: status, body, Retry-After header value.
 * access_token must be a non-empty string of printable ASCII without
 * spaces (it goes into a header); token_type must be "Bearer"
 * (case-insensitive); expires_in a positive integer or a string of digits
 * (Entra v1 sends strings); ext_expires_in and other members are ignored.
 * Error answers: "error", "error_description", and the AADSTSnnnn code
 * from the description or "error_codes". Never fails: every outcome is
 * described in *res. Descriptions have control characters replaced and
 * are cut to their first line. An HTTP-date Retry-After is measured
 * against the wall clock here (b2c_token_fetch uses its `now`). */
void b2c_token_response_parse(apr_pool_t *p, long status, const char *body,
                              size_t len, const char *retry_after,
                              b2c_token_result_t *res);

/* Make the request and interpret the answer (one attempt, bounded by
 * opts' timeouts). Transport errors: RETRYABLE, error "unreachable", the
 * transport's message as description. A request that cannot be built
 * (no secret, bad scope, non-http(s) endpoint): REFUSED, "invalid_request". */
void b2c_token_fetch(apr_pool_t *p, const b2c_token_request_t *req,
                     const b2c_http_options_t *opts, long long now,
                     b2c_token_result_t *res);

/* A failed result whose answer quotes the secret has its error text
 * replaced by a "withheld" note; returns 1 then. Compared against the raw
 * body (may be NULL), every string of it once parsed (unescaped, uncut)
 * and the result's error fields, for the secret as is, form-encoded,
 * JSON-escaped and as the base64 client_id:secret of a Basic header. Both
 * the core fetch and the client module's log lines go through it. */
int b2c_token_result_withhold_secret(apr_pool_t *p, b2c_token_result_t *res,
                                     const char *body, size_t len,
                                     const char *client_id, const char *secret);

#endif
