import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import {
  CredroamError,
  type Enroller,
  type EnrollmentOutcome,
  type EnrollmentPoll,
  type EnrollmentRequest,
} from '@credroam/core/api';
import {
  distinguishedNameDer,
  parseDistinguishedName,
  pinnedCertificate,
  type RelativeDistinguishedName,
} from '@credroam/core/kit';
import type * as asn1js from 'asn1js';
import { certConfContent } from './asn1/cert-conf.js';
import { type CertRep, readCertRep } from './asn1/cert-rep.js';
import { certHashAlgorithm, issuerAndSerial } from './asn1/certificate.js';
import { certReqMessages, certRequest } from './asn1/crmf.js';
import { decode, MalformedAsn1 } from './asn1/der.js';
import { generalNames } from './asn1/general-names.js';
import { BODY, type ReceivedMessage } from './asn1/pki-message.js';
import { describeStatus, PKI_STATUS, sanitize } from './asn1/pki-status.js';
import { pollReqContent, readPollRep } from './asn1/poll.js';
import { newTransactionId } from './messages.js';
import type { CmpSettings } from './settings.js';
import { signerFor } from './signing.js';
import { decodeState, encodeState } from './state.js';
import { CmpTransaction } from './transaction.js';

/** The Name (asn1js, for the CMP structures) of RDNs the kit parsed; no RDNs are the empty Name. */
function nameOf(rdns: readonly RelativeDistinguishedName[]): asn1js.Sequence {
  return decode(distinguishedNameDer(rdns), 'the Name') as asn1js.Sequence;
}

/** The one request of a transaction (RFC 9483 §4.1: certReqId 0). */
const CERT_REQ_ID = 0;
/** The longest wait a CA may ask for (a week): a larger checkAfter is cut to it. */
const MAX_CHECK_AFTER = 7 * 24 * 3600;

/**
 * The `cmp` enroller: lightweight CMP (RFC 9483) with a shared secret. `request` sends an `ir` (a
 * `kur` when renewing, the old certificate named in oldCertID; both MAC-protected), polls once at
 * once when the CA answers `waiting`, and confirms what it takes (`certConf` → `pkiConf`).
 * `poll` resumes the transaction from its state on any endpoint.
 */
export class CmpEnroller implements Enroller {
  constructor(private readonly settings: CmpSettings) {}

  async request(request: EnrollmentRequest): Promise<EnrollmentOutcome> {
    const { profile } = request;
    const subject = parseDistinguishedName(request.subject);
    if (!subject.ok)
      throw new CredroamError(
        'E_ENROLL_PROFILE',
        `profile '${profile}': the subject is not an RFC 4514 name: ${subject.reason}`,
      );
    const sans = generalNames(request.subjectAltNames);
    if (!sans.ok) throw new CredroamError('E_ENROLL_PROFILE', `profile '${profile}': ${sans.reason}`);
    const signer = signerFor(request.key.privateKey, profile);
    let oldCert: ReturnType<typeof issuerAndSerial> | undefined;
    if (request.renewing) {
      try {
        oldCert = issuerAndSerial(request.renewing.certificate);
      } catch (error) {
        if (!(error instanceof MalformedAsn1)) throw error;
        throw new CredroamError(
          'E_POLICY',
          `profile '${profile}': the certificate to renew cannot be read (${error.message})`,
        );
      }
    }
    const certReq = certRequest({
      certReqId: CERT_REQ_ID,
      subject: nameOf(subject.rdns),
      publicKey: request.key.publicKey,
      subjectAltNames: sans.value,
      oldCert,
    });
    const body = certReqMessages(certReq, signer.algorithm, signer.sign(certReq));
    const update = request.renewing !== undefined;
    const transaction = this.transaction(request, request.subject, newTransactionId());
    const reply = await transaction.exchange(update ? BODY.kur : BODY.ir, body, [
      update ? BODY.kup : BODY.ip,
    ]);
    return this.answer(transaction, reply, request, request.subject, update, true);
  }

  async poll(input: EnrollmentPoll): Promise<EnrollmentOutcome> {
    const state = decodeState(input.state, input.profile);
    const transaction = this.transaction(input, state.subject, state.transactionID, state.recipNonce);
    return this.pollOnce(transaction, input, state.subject, state.update);
  }

  private transaction(
    on: EnrollmentRequest | EnrollmentPoll,
    subject: string,
    transactionID: Uint8Array,
    caNonce?: Uint8Array,
  ): CmpTransaction {
    if (on.challenge === undefined || on.challenge === '')
      throw new CredroamError(
        'E_POLICY',
        `profile '${on.profile}': the cmp enroller needs the shared secret as the profile's challenge`,
      );
    const parsed = parseDistinguishedName(subject);
    const recipient =
      this.settings.recipient === undefined ? undefined : parseDistinguishedName(this.settings.recipient);
    const url = new URL(on.ca.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new CredroamError(
        'E_POLICY',
        `profile '${on.profile}': the CA's url must be http: or https:, not ${url.protocol}`,
      );
    if (this.settings.path !== undefined) url.pathname = this.settings.path;
    return new CmpTransaction(
      {
        sender: nameOf(parsed.ok ? parsed.rdns : []),
        recipient: nameOf(recipient?.ok ? recipient.rdns : []),
        reference: this.settings.reference,
        secret: on.challenge,
        pbmIterations: this.settings.pbmIterations,
        transactionID,
      },
      url,
      this.settings.timeoutSeconds * 1000,
      on.profile,
      caNonce,
    );
  }

  private async pollOnce(
    transaction: CmpTransaction,
    on: EnrollmentRequest | EnrollmentPoll,
    subject: string,
    update: boolean,
  ): Promise<EnrollmentOutcome> {
    const reply = await transaction.exchange(BODY.pollReq, pollReqContent(CERT_REQ_ID), [
      BODY.pollRep,
      update ? BODY.kup : BODY.ip,
    ]);
    if (reply.bodyType !== BODY.pollRep) return this.answer(transaction, reply, on, subject, update, false);
    const rep = this.read(on.profile, () => readPollRep(reply.body));
    if (rep.certReqId !== CERT_REQ_ID)
      throw this.malformed(on.profile, `pollRep is for request ${rep.certReqId}, not ours`);
    return this.pending(transaction, subject, update, rep.checkAfter);
  }

  private pending(
    transaction: CmpTransaction,
    subject: string,
    update: boolean,
    checkAfter: number,
  ): EnrollmentOutcome {
    return {
      status: 'pending',
      state: encodeState({
        transactionID: transaction.transactionID,
        recipNonce: transaction.caNonce ?? new Uint8Array(),
        certReqId: CERT_REQ_ID,
        subject,
        update,
      }),
      checkAfterSeconds: Math.min(Math.max(checkAfter, 0), MAX_CHECK_AFTER),
    };
  }

  /** An ip/kup: waiting (poll), rejected (refused), or a certificate (checked, confirmed, returned). */
  private async answer(
    transaction: CmpTransaction,
    reply: ReceivedMessage,
    on: EnrollmentRequest | EnrollmentPoll,
    subject: string,
    update: boolean,
    mayPoll: boolean,
  ): Promise<EnrollmentOutcome> {
    const { profile } = on;
    const rep: CertRep = this.read(profile, () => readCertRep(reply.body));
    if (rep.certReqId !== CERT_REQ_ID)
      throw this.malformed(profile, `the reply is for request ${rep.certReqId}, not ours`);
    if (rep.status.status === PKI_STATUS.waiting) {
      if (mayPoll) return this.pollOnce(transaction, on, subject, update);
      return this.pending(transaction, subject, update, 0);
    }
    if (rep.status.status !== PKI_STATUS.accepted && rep.status.status !== PKI_STATUS.grantedWithMods)
      throw new CredroamError(
        'E_ENROLL_REFUSED',
        `profile '${profile}': the CA refused the request: ${describeStatus(rep.status)}`,
      );
    if (!rep.certificate)
      throw this.malformed(profile, `the CA accepted the request but sent no certificate`);
    const certificate = rep.certificate;
    const caCertificates = unique([...rep.caPubs, ...reply.extraCerts]).filter(
      (c) => !Buffer.from(c).equals(Buffer.from(certificate)),
    );
    let problem: CredroamError | undefined;
    try {
      this.checkKey(certificate, on.key.publicKey, profile);
      pinnedCertificate(caCertificates, on.ca.fingerprint);
    } catch (error) {
      if (!(error instanceof CredroamError)) throw error;
      problem = error;
    }
    const hash = createHash(certHashAlgorithm(certificate)).update(certificate).digest();
    const confirm = certConfContent(
      hash,
      CERT_REQ_ID,
      problem ? 'credroam refuses the certificate' : undefined,
    );
    if (problem) {
      await transaction.exchange(BODY.certConf, confirm, [BODY.pkiconf]).catch(() => undefined);
      throw problem;
    }
    await transaction.exchange(BODY.certConf, confirm, [BODY.pkiconf]);
    return { status: 'issued', certificate, caCertificates };
  }

  private checkKey(certificate: Uint8Array, publicKey: Uint8Array, profile: string): void {
    let issued: X509Certificate;
    try {
      issued = new X509Certificate(certificate);
    } catch (error) {
      throw this.malformed(profile, `the certificate cannot be read (${sanitize((error as Error).message)})`);
    }
    const ours = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
    if (!issued.publicKey.equals(ours))
      throw new CredroamError(
        'E_ENROLL_CA_MISMATCH',
        `profile '${profile}': the CA issued a certificate for another key than the one in the request (refused, and said so in certConf)`,
      );
  }

  private read<T>(profile: string, reader: () => T): T {
    try {
      return reader();
    } catch (error) {
      if (error instanceof MalformedAsn1) throw this.malformed(profile, error.message);
      throw error;
    }
  }

  private malformed(profile: string, why: string): CredroamError {
    return new CredroamError(
      'E_ENROLL_PROTOCOL',
      `profile '${profile}': the CA's reply is malformed: ${why}`,
    );
  }
}

function unique(certificates: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return certificates.filter((c) => {
    const key = Buffer.from(c).toString('base64');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
