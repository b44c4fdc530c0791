/* SPDX-License-Identifier: Apache-2.0 */
/* One client-credentials token request (RFC 6749 §4.4) as MSAL's
 * AcquireTokenForClient makes it: the form with the client's
 * authentication, the answer and its errors, and the attempt itself.
 * Errors name what is wrong, never a secret, key or token byte: they end
 * up in error logs. No logging here. */
#include "b2c_token_request.h"
#include "b2c_backoff.h"
#include "b2c_json.h"
#include "b2c_url.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#define CLIENT_ASSERTION_TYPE                                                  \
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define MAX_EXPIRES_IN 31536000LL /* a year: anything longer is nonsense */
#define MAX_ERROR_TEXT 300

/* ---------------------------------------------------------------------
 * The request
 */

/* application/x-www-form-urlencoded (RFC 6749 Appendix B): unreserved
 * characters as they are, space as '+', every other byte as %XX. */
static char *form_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~') {
            *o++ = (char)c;
        }
        else if (c == ' ') {
            *o++ = '+';
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

/* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), RFC 6749 §3.3 */
static int scope_token_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

static char *standard_base64(apr_pool_t *p, const char *s)
{
    size_t len = strlen(s);
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);

    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    return out;
}

apr_status_t b2c_token_request_form(apr_pool_t *p,
                                    const b2c_token_request_t *req,
                                    long long now, const char **form,
                                    const char **basic, const char **err)
{
    char *f;

    *form = NULL;
    *basic = NULL;
    *err = NULL;
    if (req->client_id == NULL || *req->client_id == '\0') {
        *err = "no client id";
        return APR_EINVAL;
    }
    f = apr_pstrcat(p, "grant_type=client_credentials&client_id=",
                    form_encode(p, req->client_id), NULL);

    if (req->scopes && req->scopes->nelts > 0) {
        const char *const *sc = (const char *const *)req->scopes->elts;
        char *joined = NULL;
        int i;
        for (i = 0; i < req->scopes->nelts; i++) {
            if (!scope_token_ok(sc[i])) {
                *err = apr_psprintf(p,
                                    "scope number %d is empty or holds a "
                                    "blank, quote, backslash or non-ASCII "
                                    "character",
                                    i + 1);
                return APR_EINVAL;
            }
            joined = joined ? apr_pstrcat(p, joined, " ", sc[i], NULL)
                            : apr_pstrdup(p, sc[i]);
        }
        f = apr_pstrcat(p, f, "&scope=", form_encode(p, joined), NULL);
    }

    switch (req->auth) {
    case B2C_CLIENT_AUTH_SECRET_POST:
    case B2C_CLIENT_AUTH_SECRET_BASIC:
        if (req->secret == NULL || *req->secret == '\0') {
            *err = "no client secret";
            return APR_EINVAL;
        }
        if (req->auth == B2C_CLIENT_AUTH_SECRET_POST) {
            f = apr_pstrcat(
                p, f, "&client_secret=", form_encode(p, req->secret), NULL);
        }
        else {
            /* RFC 6749 §2.3.1: both parts form-encoded before base64 */
            const char *pair =
                apr_pstrcat(p, form_encode(p, req->client_id), ":",
                            form_encode(p, req->secret), NULL);
            *basic = apr_pstrcat(p, "Basic ", standard_base64(p, pair), NULL);
        }
        break;
    case B2C_CLIENT_AUTH_PRIVATE_KEY_JWT: {
        const char *assertion;
        apr_status_t rv =
            b2c_client_assertion(p, req->cert, req->client_id,
                                 req->token_endpoint, now, &assertion, err);
        if (rv != APR_SUCCESS) {
            *basic = NULL;
            return rv;
        }
        /* the JWT is all base64url and dots: nothing to encode */
        f = apr_pstrcat(p, f, "&client_assertion_type=",
                        form_encode(p, CLIENT_ASSERTION_TYPE),
                        "&client_assertion=", assertion, NULL);
        break;
    }
    default:
        *err = "unknown client authentication method";
        return APR_EINVAL;
    }
    *form = f;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------
 * The answer
 */

/* First line of s, control characters, '"' and '\' as spaces, at most
 * MAX_ERROR_TEXT bytes (cut on a UTF-8 boundary), trailing blanks dropped;
 * NULL when nothing is left. Safe to log and to put in a header. */
static const char *sanitise(apr_pool_t *p, const char *s)
{
    size_t n, i;
    char *out;

    if (s == NULL)
        return NULL;
    n = strcspn(s, "\r\n");
    if (n > MAX_ERROR_TEXT) {
        n = MAX_ERROR_TEXT;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* s[n] continues a character: cut before it starts */
    }
    out = apr_pstrndup(p, s, n);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            out[i] = ' ';
    }
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
    return n ? out : NULL;
}

/* "AADSTS" and its digits from error_codes[0] or the description. */
static const char *aadsts_code(apr_pool_t *p, const json_t *body,
                               const char *desc)
{
    json_t *codes = json_object_get(body, "error_codes");
    const char *at;

    if (json_is_array(codes) && json_array_size(codes) > 0) {
        json_t *first = json_array_get(codes, 0);
        if (json_is_integer(first) && json_integer_value(first) > 0
            && json_integer_value(first) < 10000000000LL)
            return apr_psprintf(p, "AADSTS%" APR_INT64_T_FMT,
                                (apr_int64_t)json_integer_value(first));
    }
    for (at = desc; at && (at = strstr(at, "AADSTS")) != NULL; at += 6) {
        size_t digits = strspn(at + 6, "0123456789");
        if (digits > 0 && digits <= 10)
            return apr_pstrndup(p, at, 6 + digits);
    }
    return NULL;
}

/* expires_in: a positive JSON integer or a string of digits (Entra v1);
 * 0 when absent or invalid. */
static long long expires_in_value(const json_t *v)
{
    long long n = 0;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    }
    else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (*s == '\0' || s[strspn(s, "0123456789")] != '\0')
            return 0;
        for (; *s; s++) {
            n = n * 10 + (*s - '0');
            if (n > MAX_EXPIRES_IN)
                return 0;
        }
    }
    return n > 0 && n <= MAX_EXPIRES_IN ? n : 0;
}

/* Printable ASCII, no space: it goes into "Authorization: Bearer ...". */
static int header_safe(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    }
    return 1;
}

static void set_failure(b2c_token_result_t *res, b2c_token_outcome_t outcome,
                        const char *error, const char *description)
{
    res->outcome = outcome;
    res->access_token = NULL;
    res->expires_in = 0;
    res->error = error;
    res->error_description = description;
}

static void parse_success(apr_pool_t *p, long status, const json_t *body,
                          const char *json_err, b2c_token_result_t *res)
{
    const char *token, *type;
    long long expires_in;

    if (body == NULL) {
        set_failure(res, B2C_FETCH_RETRYABLE, "invalid_response",
                    apr_psprintf(p, "HTTP %ld answer is not a JSON object: %s",
                                 status, json_err));
        return;
    }
    token = b2c_json_string(body, "access_token");
    type = b2c_json_string(body, "token_type");
    if (token == NULL || *token == '\0') {
        set_failure(res, B2C_FETCH_RETRYABLE, "invalid_response",
                    "answer has no access_token string");
        return;
    }
    if (!header_safe(token)) {
        set_failure(
            res, B2C_FETCH_RETRYABLE, "invalid_response",
            "access_token holds blanks, control or non-ASCII characters");
        return;
    }
    if (type == NULL) {
        set_failure(res, B2C_FETCH_RETRYABLE, "invalid_response",
                    "answer has no token_type string");
        return;
    }
    if (strcasecmp(type, "Bearer") != 0) {
        const char *t = sanitise(p, apr_pstrndup(p, type, 40));
        set_failure(
            res, B2C_FETCH_RETRYABLE, "invalid_response",
            apr_psprintf(p, "token_type '%s' is not Bearer", t ? t : ""));
        return;
    }
    if (json_object_get(body, "expires_in") == NULL) {
        set_failure(res, B2C_FETCH_RETRYABLE, "invalid_response",
                    "answer has no expires_in");
        return;
    }
    if ((expires_in = expires_in_value(json_object_get(body, "expires_in")))
        == 0) {
        set_failure(res, B2C_FETCH_RETRYABLE, "invalid_response",
                    apr_psprintf(p,
                                 "expires_in is not a number of seconds "
                                 "from 1 to %" APR_INT64_T_FMT,
                                 (apr_int64_t)MAX_EXPIRES_IN));
        return;
    }
    res->outcome = B2C_FETCH_OK;
    res->access_token = apr_pstrdup(p, token);
    res->expires_in = expires_in;
}

void b2c_token_response_parse(apr_pool_t *p, long status, const char *body,
                              size_t len, const char *retry_after,
                              b2c_token_result_t *res)
{
    json_t *doc = NULL;
    const char *json_err = "empty answer", *error, *desc, *raw_desc;

    memset(res, 0, sizeof(*res));
    res->retry_after = b2c_retry_after_seconds(
        retry_after, (long long)apr_time_sec(apr_time_now()));

    if (status <= 0) {
        set_failure(res, B2C_FETCH_RETRYABLE, "unreachable",
                    "no answer from the token endpoint");
        return;
    }
    if (body && len > 0
        && b2c_json_parse_object(p, body, len, &doc, &json_err) != APR_SUCCESS)
        doc = NULL;

    if (status >= 200 && status < 300) {
        parse_success(p, status, doc, json_err, res);
        return;
    }

    /* an error answer: keep what the body says about it */
    raw_desc = b2c_json_string(doc, "error_description");
    error = sanitise(p, b2c_json_string(doc, "error"));
    desc = sanitise(p, raw_desc);
    res->error_code = doc ? aadsts_code(p, doc, raw_desc) : NULL;
    if (error == NULL) {
        error = apr_psprintf(p, "http_%ld", status);
        if (desc == NULL)
            desc = apr_psprintf(p,
                                "token endpoint answered HTTP %ld without "
                                "an OAuth error",
                                status);
    }

    if (status == 429 || status == 408 || status >= 500 || status < 200
        || strcmp(error, "temporarily_unavailable") == 0
        || strcmp(error, "server_error") == 0)
        set_failure(res, B2C_FETCH_RETRYABLE, error, desc);
    else /* 3xx (redirects are not followed) and 4xx: the config is wrong */
        set_failure(res, B2C_FETCH_REFUSED, error, desc);
}

/* ---------------------------------------------------------------------
 * One attempt
 */

/* The forms a secret can be echoed in: as is, form-encoded, JSON-escaped
 * as jansson writes it, and inside the Basic header (RFC 6749 2.3.1: both
 * parts form-encoded, then base64; also without the form-encoding). */
static apr_array_header_t *secret_forms(apr_pool_t *p, const char *client_id,
                                        const char *secret)
{
    apr_array_header_t *f = apr_array_make(p, 6, sizeof(const char *));
    json_t *js;
    char *quoted;

    APR_ARRAY_PUSH(f, const char *) = secret;
    APR_ARRAY_PUSH(f, const char *) = form_encode(p, secret);
    if ((js = json_string(secret))) {
        if ((quoted = json_dumps(js, JSON_ENCODE_ANY))) {
            if (strlen(quoted) > 2)
                APR_ARRAY_PUSH(f, const char *) =
                    apr_pstrndup(p, quoted + 1, strlen(quoted) - 2);
            free(quoted);
        }
        json_decref(js);
    }
    if (client_id) {
        APR_ARRAY_PUSH(f, const char *) =
            standard_base64(p, apr_pstrcat(p, form_encode(p, client_id), ":",
                                           form_encode(p, secret), NULL));
        APR_ARRAY_PUSH(f, const char *) =
            standard_base64(p, apr_pstrcat(p, client_id, ":", secret, NULL));
    }
    return f;
}

static int holds_any(const char *text, size_t len,
                     const apr_array_header_t *forms)
{
    int i;

    for (i = 0; text && i < forms->nelts; i++) {
        const char *f = APR_ARRAY_IDX(forms, i, const char *);
        if (memmem(text, len, f, strlen(f)))
            return 1;
    }
    return 0;
}

/* Every string (member names too) of a parsed document, unescaped: a
 * \u0051 escape or a "\/" in base64 cannot hide an echo here. */
static int json_holds_any(const json_t *v, const apr_array_header_t *forms,
                          int depth)
{
    const char *k;
    json_t *m;
    size_t i;

    if (depth > 32)
        return 1; /* deeper than any error answer: withhold, to be safe */
    if (json_is_string(v))
        return holds_any(json_string_value(v), json_string_length(v), forms);
    if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i,
                           m) if (json_holds_any(m, forms, depth + 1)) return 1;
    }
    if (json_is_object(v)) {
        json_object_foreach(
            (json_t *)v, k,
            m) if (holds_any(k, strlen(k), forms)
                   || json_holds_any(m, forms, depth + 1)) return 1;
    }
    return 0;
}

int b2c_token_result_withhold_secret(apr_pool_t *p, b2c_token_result_t *res,
                                     const char *body, size_t len,
                                     const char *client_id, const char *secret)
{
    apr_array_header_t *forms;
    json_t *doc = NULL;
    const char *err;
    int found;

    if (!secret || strlen(secret) < 4 || res->outcome == B2C_FETCH_OK)
        return 0;
    forms = secret_forms(p, client_id, secret);
    found = holds_any(body, len, forms)
            || holds_any(res->error, res->error ? strlen(res->error) : 0, forms)
            || holds_any(res->error_code,
                         res->error_code ? strlen(res->error_code) : 0, forms)
            || holds_any(res->error_description,
                         res->error_description ? strlen(res->error_description)
                                                : 0,
                         forms);
    if (!found && body && len
        && b2c_json_parse_object(p, body, len, &doc, &err) == APR_SUCCESS)
        found = json_holds_any(doc, forms, 0);
    if (found) {
        res->error = "withheld";
        res->error_code = NULL;
        res->error_description = "(error text withheld: it quoted the client "
                                 "secret)";
    }
    return found;
}

void b2c_token_fetch(apr_pool_t *p, const b2c_token_request_t *req,
                     const b2c_http_options_t *opts, long long now,
                     b2c_token_result_t *res)
{
    const char *form, *basic, *err;
    apr_table_t *headers = NULL;
    b2c_http_response_t resp;

    memset(res, 0, sizeof(*res));
    res->retry_after = -1;
    if (!b2c_url_is_http(p, req->token_endpoint)) {
        set_failure(res, B2C_FETCH_REFUSED, "invalid_request",
                    "the token endpoint is not an http or https URL");
        return;
    }
    if (b2c_token_request_form(p, req, now, &form, &basic, &err)
        != APR_SUCCESS) {
        set_failure(res, B2C_FETCH_REFUSED, "invalid_request", err);
        return;
    }
    if (basic) {
        headers = apr_table_make(p, 1);
        apr_table_setn(headers, "Authorization", basic);
    }
    if (b2c_http_post_form(p, req->token_endpoint, headers, form, opts, &resp,
                           &err)
        != APR_SUCCESS) {
        const char *d = sanitise(p, err);
        set_failure(res, B2C_FETCH_RETRYABLE, "unreachable",
                    d ? d : "no answer from the token endpoint");
        return;
    }
    b2c_token_response_parse(p, resp.status, resp.body, resp.body_len,
                             resp.retry_after, res);
    /* on the raw, uncut answer, before anything is logged */
    b2c_token_result_withhold_secret(p, res, resp.body, resp.body_len,
                                     req->client_id, req->secret);
    /* measure an HTTP-date Retry-After against the caller's clock */
    res->retry_after = b2c_retry_after_seconds(resp.retry_after, now);
}
