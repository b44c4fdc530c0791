/* SPDX-License-Identifier: Apache-2.0 */
/* The fixed seal keys and context of the seal fuzz target, shared with
 * mkseeds.c (which seals the blob seeds of corpus/seal with them). Test
 * secrets, published on purpose: nothing may trust them. */
#ifndef B2C_FUZZ_SEAL_KEYS_H
#define B2C_FUZZ_SEAL_KEYS_H

#define FZ_SEAL_SECRET "mod_b2c fuzz seal key, published: trust nothing"
#define FZ_SEAL_OLD    "mod_b2c fuzz old seal key, published: trust none"
#define FZ_SEAL_CONTEXT                                                        \
    "keys\nhttps://login.example/v2.0/.well-known/openid-configuration"

#endif
