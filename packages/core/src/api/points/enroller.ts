import { extensionPointToken } from './extension-point.js';

/**
 * The certificate authority a profile enrolls with, as the site policy names it. `fingerprint` is
 * pinned: the SHA-256 (lower-case hex) of the CA certificate's DER. The protocol's own settings (a
 * CMP server's sender reference, a SCEP CA identifier) are the profile's `ca.settings`: core asks
 * the host for one enroller per profile, with those as the contribution's `settings`, checked
 * against the contribution's `configuration` schema.
 */
export interface EnrollmentCa {
  readonly url: string;
  readonly fingerprint: string;
}

/** A subject alternative name, from the profile's templates with the user's values filled in. */
export interface EnrollmentAltName {
  readonly type: 'email' | 'dns' | 'uri' | 'upn';
  readonly value: string;
}

/** A key pair made on this endpoint for one request: DER, the private key PKCS#8 (unencrypted, in memory only). */
export interface EnrollmentKey {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** One request: what to ask the CA for, for which key. */
export interface EnrollmentRequest {
  /** The profile's id (for messages). */
  readonly profile: string;
  readonly ca: EnrollmentCa;
  /** The subject as an RFC 4514 string (`CN=alice,O=Example`), the profile's template filled in. */
  readonly subject: string;
  readonly subjectAltNames: readonly EnrollmentAltName[];
  readonly key: EnrollmentKey;
  /** The challenge (a SCEP challenge password, a CMP shared secret) when the profile has one. Never log it. */
  readonly challenge?: string;
  /**
   * Renewal: the certificate being renewed (DER) and its private key (PKCS#8). A protocol that
   * renews by proving the old key (SCEP renewal, a CMP key update request) signs with them.
   */
  readonly renewing?: { readonly certificate: Uint8Array; readonly privateKey: Uint8Array };
}

/**
 * What the CA answered. `issued`: the certificate (DER) and the CA certificates the enroller saw
 * (DER; the pinned CA among them), which core checks before anything is stored. `pending`: the CA
 * will answer later; `state` is whatever the enroller needs to ask again (at most
 * `ENROLLMENT_STATE_MAX_BYTES`), which roams sealed in the user's request token so that any of the
 * user's endpoints can finish it.
 */
export type EnrollmentOutcome =
  | {
      readonly status: 'issued';
      readonly certificate: Uint8Array;
      readonly caCertificates: readonly Uint8Array[];
    }
  | { readonly status: 'pending'; readonly state: Uint8Array; readonly checkAfterSeconds: number };

/**
 * Requests certificates from a CA over one protocol (SCEP, CMP). Core decides when (a profile
 * unmet, a certificate due for renewal, a request pending), makes the key, holds the claim that
 * keeps two endpoints from enrolling at once, and checks what comes back: the certificate must be
 * for the key it made and verify against the pinned CA certificate, or it is refused and nothing is
 * stored. An enroller only speaks the protocol.
 *
 * An enroller that fetches the CA's certificates (SCEP GetCACert) must refuse, before it sends the
 * challenge or the request, a CA none of whose certificates has the pinned fingerprint
 * (`CredroamError` `E_ENROLL_CA_MISMATCH`). Errors: `E_UNREACHABLE` when the CA cannot be reached
 * (core retries in an hour), `E_ENROLL_REFUSED` when it answered no (a wrong challenge, a subject
 * it will not sign: core retries in a day, so an account is not locked out), `E_POLICY` for a
 * profile the protocol cannot serve (a key type it does not take).
 */
export interface Enroller {
  /** Requests a certificate for `request.key`, new or renewing. */
  request(request: EnrollmentRequest): Promise<EnrollmentOutcome>;
  /** Asks again about a pending request, with the state `request` (or an earlier `poll`) returned. */
  poll(input: EnrollmentPoll): Promise<EnrollmentOutcome>;
}

/** A pending request, as any of the user's endpoints may resume it. */
export interface EnrollmentPoll {
  readonly profile: string;
  readonly ca: EnrollmentCa;
  readonly key: EnrollmentKey;
  readonly challenge?: string;
  readonly state: Uint8Array;
  /**
   * The certificate the pending request renews and its key, when this endpoint holds them (a
   * protocol that signs its polls as it signed the request: SCEP's CertPoll after a RenewalReq).
   */
  readonly renewing?: { readonly certificate: Uint8Array; readonly privateKey: Uint8Array };
}

/** The largest `state` an enroller may hand back for a pending request (16 KiB). */
export const ENROLLMENT_STATE_MAX_BYTES = 16_384;

export const Enroller = extensionPointToken<Enroller>('Enroller');
