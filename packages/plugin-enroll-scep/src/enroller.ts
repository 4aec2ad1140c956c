import { createHash, randomBytes } from 'node:crypto';
import {
  CredroamError,
  type Enroller,
  type EnrollmentOutcome,
  type EnrollmentPoll,
  type EnrollmentRequest,
} from '@credroam/core/api';
import { distinguishedNameDer, parseDistinguishedName } from '@credroam/core/kit';
import * as pkijs from 'pkijs';
import { generalNames } from './alt-names.js';
import { type ScepCa, scepCa } from './ca-certs.js';
import { ScepCaClient } from './ca-client.js';
import { certificationRequest } from './csr.js';
import { openEnvelope } from './decrypt.js';
import type { ContentCipher } from './envelope.js';
import { issuedCertificate } from './issued.js';
import { issuerAndSubject, type MessageSigner, pkiMessage } from './messages.js';
import { MESSAGE_TYPE } from './oids.js';
import { decodePendingState, encodePendingState } from './pending-state.js';
import { readCertRep } from './reply.js';
import { type RsaKey, rsaKey } from './request-key.js';
import type { ScepSettings } from './settings.js';
import { selfSignedCertificate } from './signer-certificate.js';

/** How long a pending request's holder should wait before polling (RFC 8894 gives no hint in CertRep). */
const POLL_AFTER_SECONDS = 3600;

/**
 * The `scep` enroller (RFC 8894). A request: GetCACert, the pinned CA found among its certificates
 * before anything else is sent (`E_ENROLL_CA_MISMATCH`), GetCACaps, then a PKCSReq (or, renewing
 * where the CA offers Renewal, a RenewalReq) with a PKCS#10 CSR encrypted to the CA (or its RA) with
 * AES and signed with SHA-256 by a throwaway self-signed certificate for the request key (renewing:
 * by the certificate being renewed and its key). The CertRep must be signed by the CA or its RA and
 * answer this request; SUCCESS yields the certificate for the request key, FAILURE is
 * `E_ENROLL_REFUSED` naming the failInfo, PENDING a state a CertPoll resumes.
 *
 * The challenge goes only into the encrypted CSR: never into a message, a log or an error.
 */
export class ScepEnroller implements Enroller {
  constructor(private readonly settings: ScepSettings) {}

  async request(request: EnrollmentRequest): Promise<EnrollmentOutcome> {
    const key = rsaKey(request.key, request.profile);
    const parsed = parseDistinguishedName(request.subject);
    if (!parsed.ok)
      throw new CredroamError(
        'E_ENROLL_PROFILE',
        `the subject of profile '${request.profile}' is not an RFC 4514 name credroam can encode: ${parsed.reason}`,
        { profile: request.profile },
      );
    const subject = pkijs.RelativeDistinguishedNames.fromBER(distinguishedNameDer(parsed.rdns));
    const altNames = request.subjectAltNames.length > 0 ? generalNames(request.subjectAltNames) : undefined;
    if (altNames && !altNames.ok)
      throw new CredroamError('E_ENROLL_PROFILE', `profile '${request.profile}': ${altNames.reason}`, {
        profile: request.profile,
      });
    const renewing = request.renewing;
    const oldKey = renewing
      ? rsaKey(renewing, request.profile, 'key of the certificate being renewed')
      : undefined;
    const client = this.#client(request.ca.url, request.challenge);
    const ca = await this.#ca(client, request.ca.fingerprint);
    const caps = await client.capabilities();
    const csr = certificationRequest(
      { subject, ...(altNames?.ok ? { altNames: altNames.der } : {}), ...challengeOf(request.challenge) },
      key,
    );
    const signer: MessageSigner & { readonly pkcs8: Uint8Array } =
      renewing && oldKey
        ? { certificate: renewing.certificate, privateKey: oldKey.privateKey, pkcs8: renewing.privateKey }
        : {
            certificate: selfSignedCertificate(subject, key),
            privateKey: key.privateKey,
            pkcs8: request.key.privateKey,
          };
    const transactionId = transactionIdOf(key);
    const outcome = await this.#exchange(client, ca, caps, {
      messageType: renewing && caps.has('Renewal') ? MESSAGE_TYPE.renewalReq : MESSAGE_TYPE.pkcsReq,
      transactionId,
      content: csr,
      signer,
      key,
    });
    if (outcome !== 'pending') return outcome;
    return pending(transactionId, new Uint8Array(subject.toSchema().toBER()));
  }

  async poll(input: EnrollmentPoll): Promise<EnrollmentOutcome> {
    const key = rsaKey(input.key, input.profile);
    const state = decodePendingState(input.state, input.profile);
    const client = this.#client(input.ca.url, input.challenge);
    const ca = await this.#ca(client, input.ca.fingerprint);
    const caps = await client.capabilities();
    const subject = pkijs.RelativeDistinguishedNames.fromBER(state.subject);
    const issuer = new Uint8Array(pkijs.Certificate.fromBER(ca.pinned.raw).subject.toSchema().toBER());
    // Signed as the request was: with the certificate it renews, when there is one.
    const oldKey = input.renewing
      ? rsaKey(input.renewing, input.profile, 'key of the certificate being renewed')
      : undefined;
    const outcome = await this.#exchange(client, ca, caps, {
      messageType: MESSAGE_TYPE.certPoll,
      transactionId: state.transactionId,
      content: issuerAndSubject(issuer, state.subject),
      signer:
        input.renewing && oldKey
          ? {
              certificate: input.renewing.certificate,
              privateKey: oldKey.privateKey,
              pkcs8: input.renewing.privateKey,
            }
          : {
              certificate: selfSignedCertificate(subject, key),
              privateKey: key.privateKey,
              pkcs8: input.key.privateKey,
            },
      key,
    });
    return outcome === 'pending' ? pending(state.transactionId, state.subject) : outcome;
  }

  #client(url: string, challenge: string | undefined): ScepCaClient {
    return new ScepCaClient(url, this.settings, challenge !== undefined ? [challenge] : []);
  }

  /** GetCACert and the pin: nothing more is sent to a CA that is not the pinned one. */
  async #ca(client: ScepCaClient, fingerprint: string): Promise<ScepCa> {
    return scepCa(await client.caCertificates(), fingerprint, client.shown);
  }

  /** One PKIOperation and its CertRep: the issued outcome, `pending`, or the CA's refusal. */
  async #exchange(
    client: ScepCaClient,
    ca: ScepCa,
    caps: ReadonlySet<string>,
    message: {
      readonly messageType: string;
      readonly transactionId: string;
      readonly content: Uint8Array;
      readonly signer: MessageSigner & { readonly pkcs8: Uint8Array };
      readonly key: RsaKey;
    },
  ): Promise<EnrollmentOutcome | 'pending'> {
    const senderNonce = new Uint8Array(randomBytes(16));
    const recipient = pkijs.Certificate.fromBER(ca.encryption.raw);
    const body = await client.pkiOperation(
      pkiMessage({
        messageType: message.messageType,
        transactionId: message.transactionId,
        senderNonce,
        content: message.content,
        recipient,
        cipher: cipherFor(caps),
        signer: message.signer,
      }),
      caps,
    );
    const rep = readCertRep(
      body,
      ca.signers,
      { transactionId: message.transactionId, senderNonce },
      client.shown,
    );
    if (rep.status === 'pending') return 'pending';
    if (rep.status === 'failure')
      throw new CredroamError(
        'E_ENROLL_REFUSED',
        `the SCEP CA at ${client.shown} refused the request: failInfo ${rep.failInfo}${FAIL_HINT[rep.failInfo] ?? ''}`,
        { url: client.shown, failInfo: rep.failInfo },
      );
    const content = openEnvelope(
      rep.enveloped,
      { certificate: message.signer.certificate, privateKey: message.signer.pkcs8 },
      client.shown,
    );
    return {
      status: 'issued',
      certificate: issuedCertificate(content, message.key.spki, client.shown),
      caCertificates: ca.certificates.map((c) => c.slice()),
    };
  }
}

const FAIL_HINT: Readonly<Record<string, string>> = {
  badAlg: ' (an algorithm it does not take)',
  badMessageCheck: ' (the request or its signature did not check: often a wrong challenge)',
  badRequest: ' (a request it does not take: a wrong challenge, or a subject it will not sign)',
  badTime: ' (the clocks differ)',
  badCertId: ' (it does not know the certificate the request names)',
};

/** AES-256 where the server names AES (or is SCEPStandard); AES-128 otherwise, the one RFC 8894 requires. */
function cipherFor(caps: ReadonlySet<string>): ContentCipher {
  return caps.has('AES') || caps.has('SCEPStandard') ? 'aes-256-cbc' : 'aes-128-cbc';
}

/** The transactionID (RFC 8894 §3.2.1.1): the SHA-256 of the request key's SubjectPublicKeyInfo, upper-case hex. */
const transactionIdOf = (key: RsaKey): string =>
  createHash('sha256').update(key.spki).digest('hex').toUpperCase();

const challengeOf = (challenge: string | undefined): { challenge?: string } =>
  challenge !== undefined && challenge !== '' ? { challenge } : {};

const pending = (transactionId: string, subject: Uint8Array): EnrollmentOutcome => ({
  status: 'pending',
  state: encodePendingState({ transactionId, subject }),
  checkAfterSeconds: POLL_AFTER_SECONDS,
});
