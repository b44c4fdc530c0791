/* SPDX-License-Identifier: Apache-2.0 */
/* Reading claims for authorization and for export to the application.
 * jansson + APR only. All matching is exact and case-sensitive. */
#ifndef B2C_CLAIMS_H
#define B2C_CLAIMS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* Separator used when an array claim is flattened to one string. */
#define B2C_CLAIM_ARRAY_SEPARATOR ","

/* 1 if claims["roles"] is an array holding the string value. */
int b2c_claims_has_role(const json_t *claims, const char *role);

/* 1 if claims["scp"] is a string whose space-separated words include value. */
int b2c_claims_has_scope(const json_t *claims, const char *scope);

/* 1 if claims[name] is a string equal to value, or an array with such a
 * string element; numbers and booleans compare by their text form
 * ("true", "42"). */
int b2c_claims_match(const json_t *claims, const char *name, const char *value);

/* Text form of a claim for REMOTE_USER / environment / headers: strings as
 * they are, integers in decimal, booleans "true"/"false", arrays of scalars
 * joined with B2C_CLAIM_ARRAY_SEPARATOR, objects and nested arrays as
 * compact JSON. NULL when absent or JSON null. Control characters (including
 * CR/LF) and the Unicode line breaks U+0085, U+2028 and U+2029 are replaced
 * by spaces, so a value can never split a header or a log line. */
const char *b2c_claim_text(apr_pool_t *p, const json_t *claims,
                           const char *name);

/* A claim name made safe for an environment variable or header suffix:
 * [A-Za-z0-9] kept, everything else becomes '_'. */
const char *b2c_claim_env_name(apr_pool_t *p, const char *name);

/* One claim made ready for the environment: env_prefix + env name, and
 * its text form. */
typedef struct {
    const char *env;
    const char *text;
} b2c_claim_export_t;

/* Every claim with a text form, rendered once; returns how many. Claims
 * whose names map to the same variable without regard to case ("a-b" and
 * "a_b", "roles" and "ROLES") leave one entry: the claim whose name is
 * plain lower case ([a-z0-9_], what Require reads), else the later one.
 * The entries' names are distinct without regard to case. */
int b2c_claims_render_exports(apr_pool_t *p, const json_t *claims,
                              const char *env_prefix, b2c_claim_export_t **out);

#endif
