import type { X509Certificate } from 'node:crypto';
import { X509Certificate as X509 } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import semverLt from 'semver/functions/lt.js';
import type { ErrorCode } from '../../api/error-codes.js';
import { POLICY_BUNDLE_MAX_BYTES } from '../../api/extension-points.js';
import { printable } from '../../text/printable.js';
import { parseBoundedJson } from './canonical-json.js';
import type { PolicyCheck, PolicyCheckName } from './checks.js';
import { DIGESTS, digest, fingerprintOf, OID, signatureVerifies } from './cms.js';
import { type CheckedPolicyBundle, checkPolicyBundleDocument } from './document.js';
import { POLICY_SIGNING_EKU } from './eku.js';

/** The most certificates a bundle may carry (the signer and its intermediates). */
export const MAX_BUNDLE_CERTIFICATES = 8;
/** How far in the future `issuedAt` may be (the signer's clock and ours). */
export const ISSUED_AT_SKEW_MS = 300_000;

/** What the endpoint last accepted: the rollback floor, and the signers it allows next. */
export interface AcceptedBundleRef {
  readonly serial: number;
  /** SHA-256 hex of the accepted document's bytes. */
  readonly digest: string;
  /** The accepted bundle's `nextSigners`, when it named them. */
  readonly nextSigners?: readonly string[];
}

export interface VerifyPolicyOptions {
  /** The site policy roots (`readPolicyRoots`): the signer must chain to one of them. */
  readonly roots: readonly X509Certificate[];
  /** The site this endpoint belongs to. */
  readonly siteId: string;
  readonly now: Date;
  /** This agent's version, for `minAgentVersion`. */
  readonly agentVersion: string;
  /** What this endpoint accepted last; undefined: none (no rollback floor). */
  readonly lastAccepted?: AcceptedBundleRef;
}

/** What a verified bundle carries, and who signed it. */
export interface VerifiedPolicyBundle extends CheckedPolicyBundle {
  /** SHA-256 hex of the document's bytes (the attached content). */
  readonly digest: string;
  /** The signer's certificate subject and SHA-256 fingerprint (hex). */
  readonly signer: { readonly subject: string; readonly fingerprint: string };
  /** The same serial and digest as the bundle already in force. */
  readonly alreadyInForce: boolean;
}

/** Every check run, in order; the last one is the failure of a refused bundle. */
export type PolicyVerification =
  | { readonly ok: true; readonly checks: readonly PolicyCheck[]; readonly bundle: VerifiedPolicyBundle }
  | {
      readonly ok: false;
      readonly checks: readonly PolicyCheck[];
      readonly failed: PolicyCheckName;
      readonly code: ErrorCode;
      readonly reason: string;
    };

/**
 * Verifies a policy bundle's bytes, from whatever source, in the order of issue 12: signature and
 * chain (to one of `roots`; the bundle's own certificates serve only as intermediates; every
 * certificate valid at `now`), the policy-signing EKU (and the nextSigners of the bundle accepted
 * last), siteId, notAfter/issuedAt, schema, minAgentVersion, rollback. It stops at the first
 * failing check and names it; it never throws for anything in `bytes`. Nothing in the bundle is
 * read as policy before the signature verified.
 */
export async function verifyPolicyBundle(
  bytes: Uint8Array,
  options: VerifyPolicyOptions,
): Promise<PolicyVerification> {
  const checks: PolicyCheck[] = [];
  const fail = (name: PolicyCheckName, code: ErrorCode, reason: string): PolicyVerification => {
    checks.push({ name, ok: false, detail: reason, code });
    return { ok: false, checks, failed: name, code, reason };
  };
  const pass = (name: PolicyCheckName, detail: string) => checks.push({ name, ok: true, detail });

  // 1. Signature and chain.
  const parsed = parseSignedData(bytes);
  if (!parsed.ok) return fail('signature', 'E_POLICY_FORMAT', parsed.reason);
  const { content, signer, certificates } = parsed;
  if (
    !signatureVerifies(
      signer.cert,
      parsed.signatureAlgorithm,
      parsed.hash,
      parsed.signedAttrs,
      parsed.signature,
    )
  )
    return fail(
      'signature',
      'E_POLICY_SIGNATURE',
      `the signature of ${oneLine(signer.cert.subject)} does not verify: the bundle was altered or damaged`,
    );
  if (!parsed.digestMatches)
    return fail(
      'signature',
      'E_POLICY_SIGNATURE',
      'the content does not match the signed message digest: the bundle was altered',
    );
  const chain = chainToRoot(signer.cert, certificates, options.roots, options.now);
  if (!chain.ok) return fail('signature', 'E_POLICY_CHAIN', chain.reason);
  pass('signature', `signed by ${oneLine(signer.cert.subject)}, chained to ${oneLine(chain.root.subject)}`);

  // 2. EKU, and the signers the bundle in force allows.
  if (!(signer.cert.keyUsage ?? []).includes(POLICY_SIGNING_EKU))
    return fail(
      'eku',
      'E_POLICY_EKU',
      `the signer ${oneLine(signer.cert.subject)} lacks the policy-signing extended key usage ${POLICY_SIGNING_EKU}`,
    );
  const fingerprint = fingerprintOf(signer.cert);
  const allowed = options.lastAccepted?.nextSigners;
  if (allowed && !allowed.includes(fingerprint))
    return fail(
      'eku',
      'E_POLICY_EKU',
      `the signer ${fingerprint} is not among the nextSigners of the bundle in force (serial ${options.lastAccepted?.serial})`,
    );
  pass(
    'eku',
    allowed ? `policy signing, a next signer of serial ${options.lastAccepted?.serial}` : 'policy signing',
  );

  // The content, now that it is known to come from a policy signer: bounded JSON.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    return fail('schema', 'E_POLICY_SCHEMA', 'the content is not UTF-8 text');
  }
  const json = parseBoundedJson(text);
  if (!json.ok) return fail('schema', 'E_POLICY_SCHEMA', `the content is ${json.reason}`);
  const doc = (typeof json.value === 'object' && json.value !== null ? json.value : {}) as Record<
    string,
    unknown
  >;

  // 3. Site.
  if (doc.siteId !== options.siteId)
    return fail(
      'site',
      'E_POLICY_SITE',
      `the bundle is for site '${String(doc.siteId)}', this endpoint for '${options.siteId}'`,
    );
  pass('site', options.siteId);

  // 4. notAfter, and issuedAt not in the future (a date that does not parse is the schema's to refuse).
  const notAfter = typeof doc.notAfter === 'string' ? Date.parse(doc.notAfter) : Number.NaN;
  const issuedAt = typeof doc.issuedAt === 'string' ? Date.parse(doc.issuedAt) : Number.NaN;
  if (notAfter < options.now.getTime())
    return fail('expiry', 'E_POLICY_EXPIRED', `the bundle expired at ${doc.notAfter}`);
  if (issuedAt > options.now.getTime() + ISSUED_AT_SKEW_MS)
    return fail(
      'expiry',
      'E_POLICY_NOT_YET_ISSUED',
      `the bundle is issued at ${doc.issuedAt}, later than now (${options.now.toISOString()})`,
    );
  pass('expiry', `valid until ${String(doc.notAfter)}`);

  // 5. Schema, then the agent version it asks for.
  const checked = checkPolicyBundleDocument(json.value);
  if (!checked.ok) return fail('schema', 'E_POLICY_SCHEMA', checked.problems.join('; '));
  pass('schema', 'the policy bundle schema');
  const min = checked.bundle.document.minAgentVersion;
  if (min && semverLt(options.agentVersion, min))
    return fail(
      'agentVersion',
      'E_POLICY_AGENT_VERSION',
      `the bundle needs agent ${min} or later; this one is ${options.agentVersion}`,
    );
  pass('agentVersion', min ? `${options.agentVersion} ≥ ${min}` : 'any');

  // 6. Rollback.
  const serial = checked.bundle.document.serial;
  const hash = Buffer.from(digest('sha256', content)).toString('hex');
  const last = options.lastAccepted;
  if (last && serial < last.serial)
    return fail(
      'rollback',
      'E_POLICY_ROLLBACK',
      `serial ${serial} is lower than ${last.serial}, the serial this endpoint accepted`,
    );
  if (last && serial === last.serial && hash !== last.digest)
    return fail(
      'rollback',
      'E_POLICY_ROLLBACK',
      `serial ${serial} is the one in force, with other content (a serial reused)`,
    );
  const alreadyInForce = last !== undefined && serial === last.serial;
  pass(
    'rollback',
    alreadyInForce
      ? `serial ${serial}: already in force`
      : `serial ${serial}${last ? ` > ${last.serial}` : ''}`,
  );

  return {
    ok: true,
    checks,
    bundle: {
      ...checked.bundle,
      digest: hash,
      signer: { subject: signer.cert.subject, fingerprint },
      alreadyInForce,
    },
  };
}

/** A certificate's name on one line, printable: before the chain is checked, the bundle's writer chose it. */
const oneLine = (dn: string) => printable(dn.split('\n').join(', '));

type ParsedSignedData =
  | {
      ok: true;
      content: Uint8Array;
      signer: { cert: X509Certificate };
      certificates: X509Certificate[];
      signatureAlgorithm: string;
      hash: string;
      signedAttrs: Uint8Array;
      signature: Uint8Array;
      digestMatches: boolean;
    }
  | { ok: false; reason: string };

/** Reads the CMS structure within the bounds; a tagged result, never a throw. */
function parseSignedData(bytes: Uint8Array): ParsedSignedData {
  const no = (reason: string): ParsedSignedData => ({ ok: false, reason });
  if (bytes.byteLength > POLICY_BUNDLE_MAX_BYTES)
    return no(`the bundle holds ${bytes.byteLength} bytes, more than the ${POLICY_BUNDLE_MAX_BYTES} allowed`);
  try {
    const asn1 = asn1js.fromBER(bytes);
    if (asn1.offset === -1 || asn1.offset !== bytes.byteLength)
      return no('not a CMS SignedData (not one DER object)');
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData)
      return no(`not a CMS SignedData (content type ${info.contentType})`);
    const sd = new pkijs.SignedData({ schema: info.content });
    if (sd.encapContentInfo.eContentType !== OID.data)
      return no(`the signed content type is ${sd.encapContentInfo.eContentType}, not id-data`);
    const e = sd.encapContentInfo.eContent;
    if (!e)
      return no('a detached signature: the bundle must carry its content (openssl cms -sign -nodetach)');
    if (sd.signerInfos.length !== 1) return no(`${sd.signerInfos.length} signers: a bundle has exactly one`);
    const raw = sd.certificates ?? [];
    if (raw.length > MAX_BUNDLE_CERTIFICATES)
      return no(`${raw.length} certificates: a bundle carries at most ${MAX_BUNDLE_CERTIFICATES}`);
    const pairs: Array<[pkijs.Certificate, X509Certificate]> = [];
    for (const c of raw) {
      if (!(c instanceof pkijs.Certificate))
        return no('a certificate of the bundle is not an X.509 certificate');
      pairs.push([c, new X509(new Uint8Array(c.toSchema().toBER()))]);
    }
    const si = sd.signerInfos[0]!;
    if (!(si.sid instanceof pkijs.IssuerAndSerialNumber))
      return no(
        'the signer is named by a key identifier: credroam reads issuer and serial number (openssl cms -sign does)',
      );
    const sid = si.sid;
    const signer = pairs.find(
      ([c]) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber),
    );
    if (!signer) return no("the signer's certificate is not in the bundle");
    const hash = DIGESTS[si.digestAlgorithm.algorithmId];
    if (!hash)
      return no(`digest algorithm ${si.digestAlgorithm.algorithmId} is not SHA-256, SHA-384 or SHA-512`);
    if (!si.signedAttrs) return no('the signer has no signed attributes');
    const attrs = si.signedAttrs.attributes;
    const one = (type: string) => {
      const found = attrs.filter((a) => a.type === type);
      return found.length === 1 && found[0]!.values.length === 1 ? found[0]!.values[0] : undefined;
    };
    const contentType = one(OID.contentType);
    const messageDigest = one(OID.messageDigest);
    if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.getValue() !== OID.data)
      return no('the signed content-type attribute is missing or not id-data');
    if (!(messageDigest instanceof asn1js.OctetString))
      return no('the signed message-digest attribute is missing');
    const content = new Uint8Array(
      e instanceof asn1js.OctetString ? e.getValue() : (e as asn1js.BaseBlock).valueBeforeDecodeView,
    );
    const expected = digest(hash, content);
    const got = new Uint8Array(messageDigest.getValue());
    return {
      ok: true,
      content,
      signer: { cert: signer[1] },
      certificates: pairs.map(([, x]) => x),
      signatureAlgorithm: si.signatureAlgorithm.algorithmId,
      hash,
      signedAttrs: new Uint8Array(si.signedAttrs.encodedValue),
      signature: new Uint8Array(si.signature.getValue()),
      digestMatches: Buffer.from(expected).equals(Buffer.from(got)),
    };
  } catch (error) {
    return no(`not a CMS SignedData: ${(error as Error).message}`);
  }
}

/**
 * Builds the signer's path to one of `roots`: each step's issuer names it and its key verifies
 * it, every issuer is a CA (basicConstraints cA), every certificate is valid at `now`. The
 * bundle's certificates serve only as intermediates; a root must come from `roots`.
 */
function chainToRoot(
  signer: X509Certificate,
  candidates: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: Date,
): { ok: true; root: X509Certificate } | { ok: false; reason: string } {
  const validNow = (c: X509Certificate) =>
    Date.parse(c.validFrom) <= now.getTime() && now.getTime() <= Date.parse(c.validTo);
  const issues = (issuer: X509Certificate, child: X509Certificate) =>
    issuer.ca && child.checkIssued(issuer) && child.verify(issuer.publicKey);
  let current = signer;
  const seen = new Set<string>();
  for (let depth = 0; depth <= MAX_BUNDLE_CERTIFICATES; depth++) {
    if (!validNow(current))
      return {
        ok: false,
        reason: `the certificate ${oneLine(current.subject)} is not valid at ${now.toISOString()} (${current.validFrom} – ${current.validTo})`,
      };
    const root = roots.find((r) => r.fingerprint256 === current.fingerprint256 || issues(r, current));
    if (root) {
      if (!validNow(root))
        return {
          ok: false,
          reason: `the policy root ${oneLine(root.subject)} is not valid at ${now.toISOString()}`,
        };
      return { ok: true, root };
    }
    seen.add(current.fingerprint256);
    const next = candidates.find((c) => !seen.has(c.fingerprint256) && issues(c, current));
    if (!next)
      return {
        ok: false,
        reason: `the signer ${oneLine(signer.subject)} does not chain to a site policy root of this endpoint (stopped at ${oneLine(current.issuer)})`,
      };
    current = next;
  }
  return { ok: false, reason: 'the chain is longer than the certificates a bundle may carry' };
}
