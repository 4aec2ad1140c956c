/**
 * The content of an `attrs` token: a certificate's friendly name and CA chain. The codec that
 * checks, encodes and decodes it (`encodeCredentialAttributes`, `decodeCredentialAttributes`)
 * is in `@credroam/core/kit`.
 */
export interface CredentialAttributes {
  /** The id (SHA-256 of the DER, lower-case hex) of the certificate these attributes belong to. */
  readonly cert: string;
  /** 1..256 characters, NFC, no control, line-separator or bidi-control characters. */
  readonly friendlyName?: string;
  /** CA certificates (DER), issuer order, the credential's own certificate excluded. */
  readonly chain: readonly Uint8Array[];
}
