/* SPDX-License-Identifier: Apache-2.0 */
/* "Is this token valid for this configuration at this time?" Every check
 * runs in a fixed order and the first failure is the verdict, so logs and
 * error responses are predictable. Pure: the clock and keys come in. */
#include "b2c_validate.h"
#include "b2c_json.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <string.h>

#define TENANT_PLACEHOLDER     "{tenantid}"
#define TENANT_PLACEHOLDER_LEN (sizeof(TENANT_PLACEHOLDER) - 1)
#define KID_LOG_MAX            64
#define SKEW_MAX               (366LL * 24 * 3600) /* clamp absurd configs; no overflow */

static const char *const status_names[] = {
    "valid",         "malformed",  "bad_alg",      "unknown_kid",
    "bad_signature", "bad_issuer", "bad_audience", "expired",
    "not_yet_valid", "bad_time",   "foreign"
};

const char *b2c_token_status_name(b2c_token_status_t s)
{
    if ((unsigned)s < sizeof(status_names) / sizeof(status_names[0]))
        return status_names[s];
    return "unknown";
}

/* A tenant id may only be a GUID-like token: it is spliced into an URL. */
static int tid_acceptable(const char *tid)
{
    const char *c;

    if (tid == NULL || *tid == '\0')
        return 0;
    for (c = tid; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
              || (*c >= '0' && *c <= '9') || *c == '-'))
            return 0;
    }
    return 1;
}

int b2c_issuer_matches(const char *template_iss, const char *iss,
                       const char *tid)
{
    const char *t = template_iss, *s = iss;

    if (t == NULL || s == NULL || *t == '\0')
        return 0;
    /* Walk both strings, expanding the placeholder in place: no buffers. */
    while (*t) {
        if (strncmp(t, TENANT_PLACEHOLDER, TENANT_PLACEHOLDER_LEN) == 0) {
            size_t n;
            if (!tid_acceptable(tid))
                return 0;
            n = strlen(tid);
            if (strncmp(s, tid, n) != 0)
                return 0;
            s += n;
            t += TENANT_PLACEHOLDER_LEN;
        }
        else {
            if (*s != *t)
                return 0;
            s++;
            t++;
        }
    }
    return *s == '\0';
}

/* Microsoft gives keys an issuer in the v2 form only. A v1 token of the
 * same tenant (https://sts.windows.net/{tid}/) is vouched for by such a
 * key, as Microsoft.IdentityModel's signing-key issuer check allows: this
 * returns the v2 form of a v1 issuer, or NULL for anything else. */
static const char *v2_form_of_v1_issuer(apr_pool_t *p, const char *iss,
                                        const char *tid)
{
    static const char *const v1_to_v2[][2] = {
        { "https://sts.windows.net/", "https://login.microsoftonline.com/" },
        { "https://sts.chinacloudapi.cn/",
          "https://login.partner.microsoftonline.cn/" },
    };
    size_t i;

    if (!tid || !tid_acceptable(tid))
        return NULL;
    for (i = 0; i < sizeof(v1_to_v2) / sizeof(v1_to_v2[0]); i++)
        if (!strcmp(iss, apr_pstrcat(p, v1_to_v2[i][0], tid, "/", NULL)))
            return apr_pstrcat(p, v1_to_v2[i][1], tid, "/v2.0", NULL);
    return NULL;
}

static int key_vouches_for(apr_pool_t *p, const b2c_jwk_t *key, const char *iss,
                           const char *tid)
{
    const char *v2;

    if (key->issuer == NULL || b2c_issuer_matches(key->issuer, iss, tid))
        return 1;
    v2 = v2_form_of_v1_issuer(p, iss, tid);
    return v2 && b2c_issuer_matches(key->issuer, v2, tid);
}

/* The header kid made safe for a log line: [A-Za-z0-9._-], 64 chars. */
static const char *sanitise_kid(apr_pool_t *p, const char *kid)
{
    size_t n, i;
    char *out;

    if (kid == NULL)
        return NULL;
    n = strlen(kid);
    if (n > KID_LOG_MAX)
        n = KID_LOG_MAX;
    out = apr_palloc(p, n + 1);
    for (i = 0; i < n; i++) {
        char c = kid[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                 || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out[i] = ok ? c : '_';
    }
    out[n] = '\0';
    return out;
}

/* The next key of jwks (from index *i on) that a token with this kid may
 * be checked with, or NULL. No kid: only a set of exactly one key. */
static const b2c_jwk_t *next_key(const b2c_jwks_t *jwks, const char *kid,
                                 int *i)
{
    if (jwks == NULL || jwks->nkeys <= 0)
        return NULL;
    if (kid == NULL)
        return jwks->nkeys == 1 && (*i)++ == 0 ? &jwks->keys[0] : NULL;
    for (; *i < jwks->nkeys; (*i)++)
        if (jwks->keys[*i].kid != NULL && !strcmp(jwks->keys[*i].kid, kid))
            return &jwks->keys[(*i)++];
    return NULL;
}

static b2c_token_status_t verdict(b2c_validation_result_t *res,
                                  b2c_token_status_t s, const char *reason)
{
    res->status = s;
    res->reason = reason;
    return s;
}

static int audience_matches(const json_t *aud,
                            const apr_array_header_t *audiences)
{
    int i;

    if (!json_is_string(aud))
        return 0;
    for (i = 0; i < audiences->nelts; i++) {
        const char *want = APR_ARRAY_IDX(audiences, i, const char *);
        if (want != NULL && strcmp(want, json_string_value(aud)) == 0)
            return 1;
    }
    return 0;
}

static b2c_token_status_t check_audience(const json_t *claims,
                                         const b2c_validation_params_t *params,
                                         b2c_validation_result_t *res)
{
    json_t *aud = json_object_get(claims, "aud"), *el;
    size_t i;

    if (params->audiences == NULL || params->audiences->nelts == 0)
        return verdict(res, B2C_VERDICT_BAD_AUDIENCE, "no audience configured");
    if (aud == NULL)
        return verdict(res, B2C_VERDICT_BAD_AUDIENCE, "aud missing");
    if (json_is_string(aud)) {
        if (audience_matches(aud, params->audiences))
            return B2C_VERDICT_VALID;
        return verdict(res, B2C_VERDICT_BAD_AUDIENCE, "aud not accepted");
    }
    if (!json_is_array(aud))
        return verdict(res, B2C_VERDICT_BAD_AUDIENCE,
                       "aud is not a string or array");
    /* RFC 7519 §4.1.3: an array of strings; anything else is malformed. */
    json_array_foreach(aud, i, el)
    {
        if (!json_is_string(el))
            return verdict(res, B2C_VERDICT_BAD_AUDIENCE,
                           "aud array holds a non-string");
    }
    json_array_foreach(aud, i, el)
    {
        if (audience_matches(el, params->audiences))
            return B2C_VERDICT_VALID;
    }
    return verdict(res, B2C_VERDICT_BAD_AUDIENCE, "aud not accepted");
}

static b2c_token_status_t check_times(const json_t *claims,
                                      const b2c_validation_params_t *params,
                                      b2c_validation_result_t *res)
{
    long long exp = 0, nbf = 0, iat = 0, skew = params->clock_skew;
    long long now = b2c_time_clamp(params->now);
    int has_exp = b2c_json_numeric_date(claims, "exp", &exp);
    int has_nbf = b2c_json_numeric_date(claims, "nbf", &nbf);
    int has_iat = b2c_json_numeric_date(claims, "iat", &iat);

    if (has_exp == 0)
        return verdict(res, B2C_VERDICT_BAD_TIME, "exp missing");
    if (has_exp < 0)
        return verdict(res, B2C_VERDICT_BAD_TIME, "exp is not a NumericDate");
    if (has_nbf < 0)
        return verdict(res, B2C_VERDICT_BAD_TIME, "nbf is not a NumericDate");
    if (has_iat < 0)
        return verdict(res, B2C_VERDICT_BAD_TIME, "iat is not a NumericDate");
    if (skew < 0)
        skew = 0;
    if (skew > SKEW_MAX)
        skew = SKEW_MAX;
    /* The JSON reader allows +-2^53; clamp to the sane range before any
     * arithmetic here or in the callers (exp becomes microseconds). */
    exp = b2c_time_clamp(exp);
    nbf = b2c_time_clamp(nbf);
    iat = b2c_time_clamp(iat);
    if (now > exp + skew)
        return verdict(res, B2C_VERDICT_EXPIRED, "token expired");
    if (has_nbf > 0 && nbf > now + skew)
        return verdict(res, B2C_VERDICT_NOT_YET_VALID,
                       "token not yet valid (nbf)");
    /* Nobody issues a token after now: a future iat means a forged token
     * or an issuer with a wrong clock (RFC 7519 leaves the check to us). */
    if (has_iat > 0 && iat > now + skew)
        return verdict(res, B2C_VERDICT_NOT_YET_VALID,
                       "token issued in the future (iat)");
    res->exp = exp;
    return B2C_VERDICT_VALID;
}

b2c_token_status_t b2c_validate_token(apr_pool_t *p, const char *token,
                                      size_t len, const b2c_jwks_t *jwks,
                                      const b2c_validation_params_t *params,
                                      b2c_validation_result_t *res)
{
    b2c_jwt_t *jwt = NULL;
    const b2c_jwk_t *key, *cand;
    const char *err = NULL, *iss, *tid, *why = NULL;
    int i, ok;

    memset(res, 0, sizeof(*res));
    if (params == NULL)
        return verdict(res, B2C_VERDICT_MALFORMED, "no validation parameters");

    if (b2c_jwt_parse(p, token, len, &jwt, &err) != APR_SUCCESS)
        return verdict(res, B2C_VERDICT_MALFORMED,
                       apr_pstrcat(p, "malformed token: ", err, NULL));
    res->jwt = jwt;
    res->kid = sanitise_kid(p, jwt->kid);

    /* Microsoft Graph access tokens carry a "nonce" header and are hashed
     * before signing, so nobody but Graph can verify them. Say so instead
     * of reporting a baffling signature failure. */
    if (json_object_get(jwt->header, "nonce") != NULL)
        return verdict(
            res, B2C_VERDICT_FOREIGN,
            "token has a nonce header: it looks like a token for another "
            "resource such as Microsoft Graph");

    if (jwt->alg == 0 || (jwt->alg & params->algs) == 0)
        return verdict(res, B2C_VERDICT_BAD_ALG, "alg not allowed");

    /* The key comes only from our JWKS by kid; jku/x5u/jwk/x5c headers are
     * attacker-controlled and deliberately never looked at. A JWKS may list
     * one kid twice (a rollover publishing the new key under the old kid):
     * each key with that kid is tried, the first that verifies is used. */
    key = NULL;
    err = NULL;
    for (i = 0, ok = 0; !ok && (cand = next_key(jwks, jwt->kid, &i));) {
        if (cand->use != NULL && strcmp(cand->use, "sig") != 0)
            why = "key is not for signatures";
        else if (cand->alg != NULL && strcmp(cand->alg, jwt->alg_name) != 0)
            why = "key alg differs from token alg";
        else if (b2c_jwt_verify_signature(p, jwt, cand, &err) != APR_SUCCESS)
            why = apr_pstrcat(p, "bad signature: ", err, NULL);
        else
            ok = 1;
        key = cand;
    }
    if (key == NULL)
        return verdict(res, B2C_VERDICT_UNKNOWN_KID,
                       jwt->kid ? "no key with this kid" : "token has no kid");
    if (!ok)
        return verdict(res, B2C_VERDICT_BAD_SIGNATURE, why);

    iss = b2c_json_string(jwt->claims, "iss");
    tid = b2c_json_string(jwt->claims, "tid");
    if (iss == NULL)
        return verdict(res, B2C_VERDICT_BAD_ISSUER,
                       "iss missing or not a string");
    /* Microsoft's multi-tenant sets bind each key to an issuer: a key of
     * one tenant must not vouch for tokens naming another. */
    if (!key_vouches_for(p, key, iss, tid))
        return verdict(res, B2C_VERDICT_BAD_ISSUER,
                       "iss does not fit the key's issuer");
    if (params->issuers == NULL || params->issuers->nelts == 0)
        return verdict(res, B2C_VERDICT_BAD_ISSUER, "no issuer configured");
    for (ok = 0, i = 0; i < params->issuers->nelts && !ok; i++)
        ok = b2c_issuer_matches(APR_ARRAY_IDX(params->issuers, i, const char *),
                                iss, tid);
    if (!ok)
        return verdict(res, B2C_VERDICT_BAD_ISSUER, "iss not accepted");

    if (check_audience(jwt->claims, params, res) != B2C_VERDICT_VALID)
        return res->status;
    if (check_times(jwt->claims, params, res) != B2C_VERDICT_VALID)
        return res->status;
    return verdict(res, B2C_VERDICT_VALID, "valid");
}
