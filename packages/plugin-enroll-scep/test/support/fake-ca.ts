import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import http from 'node:http';
import { distinguishedNameDer, parseDistinguishedName } from '@credroam/core/kit';
import * as asn1js from 'asn1js';
import type { ExecutionContext } from 'ava';
import * as pkijs from 'pkijs';
import { envelope } from '../../src/envelope.js';
import { selfSignedCertificate } from '../../src/signer-certificate.js';
import { type SignedMessage, signedMessage } from './pki-message.js';

/** A certificate and its key, as a test CA (or an impostor) holds them. */
export interface TestSigner {
  readonly certificate: Uint8Array;
  readonly privateKey: KeyObject;
  /** SHA-256 of the certificate, lower-case hex. */
  readonly fingerprint: string;
}

/** A self-signed RSA certificate for `name` (an RFC 4514 string). */
export function testSigner(name: string): TestSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const parsed = parseDistinguishedName(name);
  if (!parsed.ok) throw new Error(parsed.reason);
  const certificate = selfSignedCertificate(
    pkijs.RelativeDistinguishedNames.fromBER(distinguishedNameDer(parsed.rdns)),
    { privateKey, publicKey, spki },
  );
  return { certificate, privateKey, fingerprint: createHash('sha256').update(certificate).digest('hex') };
}

/** What the fake server answers. */
export interface FakeReply {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** The body; a function writes it itself (chunks, or never ending). */
  readonly body?: Uint8Array | string | ((res: http.ServerResponse) => void);
}

export interface FakeCa {
  readonly url: string;
  /** Every request, by operation, with the pkiMessage read when there is one. */
  readonly requests: {
    readonly operation: string;
    readonly method: string;
    readonly message?: SignedMessage;
  }[];
}

/**
 * A SCEP server on 127.0.0.1 that serves `ca`'s certificate to GetCACert, `caps` to GetCACaps, and
 * whatever `pkiOperation` returns to PKIOperation (POST, or GET with `message`). Closed at the end
 * of the test.
 */
export async function fakeCa(
  t: ExecutionContext,
  ca: TestSigner,
  pkiOperation: (message: SignedMessage) => FakeReply,
  options: { readonly caps?: string; readonly caCert?: FakeReply } = {},
): Promise<FakeCa> {
  const requests: FakeCa['requests'][number][] = [];
  const server = http.createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const operation = query.get('operation') ?? '?';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let reply: FakeReply;
      if (operation === 'GetCACert')
        reply = options.caCert ?? {
          headers: { 'content-type': 'application/x-x509-ca-cert' },
          body: ca.certificate,
        };
      else if (operation === 'GetCACaps')
        reply = { body: options.caps ?? 'POSTPKIOperation\nAES\nSHA-256\nRenewal\nSCEPStandard\n' };
      else if (operation === 'PKIOperation') {
        const der =
          req.method === 'POST' ? Buffer.concat(chunks) : Buffer.from(query.get('message') ?? '', 'base64');
        const message = signedMessage(new Uint8Array(der));
        requests.push({ operation, method: req.method ?? '?', message });
        reply = pkiOperation(message);
      } else reply = { status: 404 };
      if (operation !== 'PKIOperation') requests.push({ operation, method: req.method ?? '?' });
      res.writeHead(reply.status ?? 200, reply.headers ?? { 'content-type': 'application/x-pki-message' });
      if (typeof reply.body === 'function') reply.body(res);
      else res.end(reply.body === undefined ? undefined : Buffer.from(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/scep`, requests };
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionID: '2.16.840.1.113733.1.9.7',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
} as const;

const attribute = (type: string, value: asn1js.BaseBlock) =>
  new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Set({ value: [value] })],
  });
const tagged0 = (value: asn1js.BaseBlock[]) =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value });
const contentInfo = (type: string, content: asn1js.BaseBlock) =>
  new Uint8Array(
    new asn1js.Sequence({
      value: [new asn1js.ObjectIdentifier({ value: type }), tagged0([content])],
    }).toBER(),
  );

/** What a CertRep built here says. */
export interface CertRepContent {
  /** Who signs it; `sid` the certificate it names as signer (the signer's own by default). */
  readonly signer: TestSigner;
  readonly sid?: Uint8Array;
  readonly request: SignedMessage;
  readonly pkiStatus: '0' | '2' | '3';
  readonly failInfo?: string;
  readonly recipientNonce?: Uint8Array;
  readonly transactionId?: string;
  /** The EnvelopedData (DER) of a SUCCESS. */
  readonly content?: Uint8Array;
  readonly digest?: 'sha1' | 'sha256';
}

/** A CertRep (RFC 8894 §3.3.2) as a SCEP server sends it: by default signed with SHA-1, like micromdm's. */
export function certRep(c: CertRepContent): Uint8Array {
  const digest = c.digest ?? 'sha1';
  const attrs = [
    attribute(OID.contentType, new asn1js.ObjectIdentifier({ value: OID.data })),
    attribute(
      OID.messageDigest,
      new asn1js.OctetString({
        valueHex: createHash(digest)
          .update(c.content ?? new Uint8Array())
          .digest(),
      }),
    ),
    attribute(OID.messageType, new asn1js.PrintableString({ value: '3' })),
    attribute(
      OID.transactionID,
      new asn1js.PrintableString({ value: c.transactionId ?? c.request.transactionId }),
    ),
    attribute(OID.senderNonce, new asn1js.OctetString({ valueHex: randomBytes(16) })),
    attribute(
      OID.recipientNonce,
      new asn1js.OctetString({ valueHex: c.recipientNonce ?? c.request.senderNonce }),
    ),
    attribute(OID.pkiStatus, new asn1js.PrintableString({ value: c.pkiStatus })),
    ...(c.failInfo !== undefined
      ? [attribute(OID.failInfo, new asn1js.PrintableString({ value: c.failInfo }))]
      : []),
  ].sort((a, b) => Buffer.compare(Buffer.from(a.toBER()), Buffer.from(b.toBER())));
  const set = new asn1js.Set({ value: attrs });
  const signature = sign(digest, Buffer.from(set.toBER()), c.signer.privateKey);
  const sidCert = pkijs.Certificate.fromBER(c.sid ?? c.signer.certificate);
  const digestAlg = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: digest === 'sha1' ? OID.sha1 : OID.sha256 })],
  });
  const signerInfo = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Sequence({ value: [sidCert.issuer.toSchema(), sidCert.serialNumber] }),
      digestAlg,
      tagged0(attrs),
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: OID.rsaEncryption }), new asn1js.Null()],
      }),
      new asn1js.OctetString({ valueHex: signature }),
    ],
  });
  const encap: asn1js.BaseBlock[] = [new asn1js.ObjectIdentifier({ value: OID.data })];
  if (c.content) encap.push(tagged0([new asn1js.OctetString({ valueHex: c.content })]));
  return contentInfo(
    OID.signedData,
    new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 1 }),
        new asn1js.Set({ value: [digestAlg] }),
        new asn1js.Sequence({ value: encap }),
        tagged0([asn1js.fromBER(c.signer.certificate).result]),
        new asn1js.Set({ value: [signerInfo] }),
      ],
    }),
  );
}

/**
 * A certificate for `spki` issued by `ca` (SHA-256), with the subject of `subjectOf` (a
 * certificate, DER), and a keyUsage extension when `keyUsage` (the first byte of its bits) is given.
 */
export function issueCertificate(
  ca: TestSigner,
  subjectOf: Uint8Array,
  spki: Uint8Array,
  keyUsage?: number,
): Uint8Array {
  const caCert = pkijs.Certificate.fromBER(ca.certificate);
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: Buffer.from([0x42, ...randomBytes(8)]) });
  cert.issuer = caCert.subject;
  cert.subject = pkijs.Certificate.fromBER(subjectOf).subject;
  cert.notBefore = new pkijs.Time({ type: 0, value: new Date(Date.now() - 3_600_000) });
  cert.notAfter = new pkijs.Time({ type: 0, value: new Date(Date.now() + 86_400_000) });
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(spki);
  if (keyUsage !== undefined)
    cert.extensions = [
      new pkijs.Extension({
        extnID: '2.5.29.15',
        critical: true,
        extnValue: new asn1js.BitString({ valueHex: Uint8Array.of(keyUsage), unusedBits: 0 }).toBER(),
      }),
    ];
  const alg = new pkijs.AlgorithmIdentifier({
    algorithmId: OID.sha256WithRSA,
    algorithmParams: new asn1js.Null(),
  });
  cert.signature = alg;
  cert.signatureAlgorithm = alg;
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER());
  cert.signatureValue = new asn1js.BitString({ valueHex: sign('sha256', cert.tbsView, ca.privateKey) });
  return new Uint8Array(cert.toSchema().toBER());
}

/** A degenerate certs-only SignedData (DER) holding `certificates`. */
export function certsOnly(certificates: readonly Uint8Array[]): Uint8Array {
  return contentInfo(
    OID.signedData,
    new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 1 }),
        new asn1js.Set({ value: [] }),
        new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
        tagged0(certificates.map((c) => asn1js.fromBER(c).result)),
        new asn1js.Set({ value: [] }),
      ],
    }),
  );
}

/**
 * The content of a SUCCESS: a certificate for `spki` issued by `ca`, in a certs-only SignedData,
 * enveloped (AES-128) for the request's signer certificate.
 */
export function issuedEnvelope(ca: TestSigner, request: SignedMessage, spki: Uint8Array): Uint8Array {
  const issued = issueCertificate(ca, request.signer, spki);
  return envelope(certsOnly([issued]), pkijs.Certificate.fromBER(request.signer), 'aes-128-cbc');
}
