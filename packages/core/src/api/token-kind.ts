/**
 * What a token carries: certificates, private keys, and a certificate's attributes (its friendly
 * name and CA chain, `CredentialAttributes`; enrollment may add requests).
 */
export type TokenKind = 'cert' | 'key' | 'attrs';
export const TOKEN_KINDS: readonly TokenKind[] = ['cert', 'key', 'attrs'];
