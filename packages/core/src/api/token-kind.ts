/**
 * What a token carries: certificates, private keys, and a certificate's attributes (its friendly
 * name and CA chain, `CredentialAttributes`). These are what a local store holds and what a token
 * protector is asked to seal. (Enrollment's own tokens, a pending request and a claim, live in the
 * directory only; core seals them as `key` and `attrs`, the token's header telling them apart.)
 */
export type TokenKind = 'cert' | 'key' | 'attrs';
export const TOKEN_KINDS: readonly TokenKind[] = ['cert', 'key', 'attrs'];
