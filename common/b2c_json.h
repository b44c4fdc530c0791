/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile-input JSON parsing on top of jansson. No httpd headers. */
#ifndef B2C_JSON_H
#define B2C_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* Largest document any of our parsers accept (JWKS, discovery, token
 * response). Microsoft's JWKS is ~12 KB; this leaves ample room. */
#define B2C_JSON_MAX_BYTES (1024 * 1024)

/* Parse exactly one JSON object from buf[0..len): duplicate member names,
 * trailing garbage, embedded NULs, non-object roots and documents larger
 * than B2C_JSON_MAX_BYTES are rejected. On success *out holds a new
 * reference that is released when pool p is cleared (a pool cleanup).
 * On failure *err (allocated from p) says why, never quoting the input. */
apr_status_t b2c_json_parse_object(apr_pool_t *p, const char *buf, size_t len,
                                   json_t **out, const char **err);

/* Member lookups that return NULL when absent or of another type. */
const char *b2c_json_string(const json_t *obj, const char *name);

/* Reads a NumericDate (RFC 7519 §2): a JSON integer or a real with an
 * integral value; returns 1 when present and valid, 0 when absent,
 * -1 when present but not a number (or out of range / not finite).
 * Range: |value| <= 2^53, so callers may add a clock skew safely. */
int b2c_json_numeric_date(const json_t *obj, const char *name, long long *out);

#endif
