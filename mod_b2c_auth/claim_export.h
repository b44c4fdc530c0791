/* SPDX-License-Identifier: Apache-2.0 */
/* Handing claims to the application (see claim_export.c): incoming claim
 * headers dropped, claims exported as environment variables and, when
 * asked, as bounded request headers. */
#ifndef B2C_CLAIM_EXPORT_H
#define B2C_CLAIM_EXPORT_H

#include <httpd.h>

/* header_parser hook: X-B2C-Claim-* headers can only come from us. */
int b2c_auth_strip_claim_headers(request_rec *r);

/* fixups hook: B2C_CLAIM_* variables and X-B2C-Claim-* headers of a valid
 * token; nothing inherited into a request that did not authenticate. */
int b2c_auth_export_claims(request_rec *r);

#endif
