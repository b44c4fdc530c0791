/* SPDX-License-Identifier: Apache-2.0 */
/* The Authorization request header of a bearer-token request (RFC 6750
 * §2.1). Pure string handling: no httpd headers, no allocation. */
#ifndef B2C_BEARER_H
#define B2C_BEARER_H

#include <stddef.h>

typedef enum {
    B2C_BEARER_NONE = 0, /* no header, or another scheme (Basic, ...) */
    B2C_BEARER_OK,       /* one b64token after "Bearer" */
    B2C_BEARER_MALFORMED /* "Bearer" but not followed by exactly one token */
} b2c_bearer_status_t;

/* Parse the value of an Authorization header (NULL when absent):
 *   *( SP / HTAB ) "Bearer" ( SP / HTAB / end ) *SP b64token
 * with the scheme case-insensitive and
 *   b64token = *( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * running to the end of the value. Anything else after the scheme (a
 * second header merged in with ", ", blanks inside or after the token, a
 * tab before it, no token at all) is B2C_BEARER_MALFORMED.
 * A comma anywhere (httpd joins repeated Authorization headers with ", ",
 * and no credentials contain one) is B2C_BEARER_MALFORMED whatever the
 * scheme. On B2C_BEARER_OK, *token points into hdr and runs to its end (so it is
 * NUL-terminated) with *len > 0; otherwise *token = NULL and *len = 0. */
b2c_bearer_status_t b2c_bearer_parse(const char *hdr, const char **token,
                                     size_t *len);

#endif
