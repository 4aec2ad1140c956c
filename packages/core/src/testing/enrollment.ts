import { execFile } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CredroamError } from '../api/errors.js';
import type {
  Enroller,
  EnrollmentOutcome,
  EnrollmentPoll,
  EnrollmentRequest,
} from '../api/points/enroller.js';

const run = promisify(execFile);

/**
 * A certificate authority made by the real `openssl` in a temporary folder: it issues a
 * certificate for any public key (what a SCEP server that signs every CSR does). For tests of
 * enrollment that are not about a protocol.
 */
export class OpensslCa {
  private constructor(
    readonly dir: string,
    /** The CA certificate, DER. */
    readonly certificate: Uint8Array,
  ) {}

  /** SHA-256 of the CA certificate's DER: what a profile pins. */
  get fingerprint(): string {
    return createHash('sha256').update(this.certificate).digest('hex');
  }

  static async create(name = 'Test Enrollment CA'): Promise<OpensslCa> {
    const dir = await mkdtemp(path.join(tmpdir(), 'credroam-ca-'));
    const ssl = (args: readonly string[]) => run('openssl', [...args], { cwd: dir });
    await ssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key.pem',
      '-out',
      'ca.pem',
      '-days',
      '3650',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await ssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'any.key.pem',
      '-out',
      'any.csr',
      '-subj',
      '/CN=any',
    ]);
    await ssl(['x509', '-in', 'ca.pem', '-outform', 'DER', '-out', 'ca.der']);
    return new OpensslCa(dir, new Uint8Array(await readFile(path.join(dir, 'ca.der'))));
  }

  /**
   * A certificate for `publicKey` (SPKI DER) with `subject` (openssl's `/CN=…` form), valid `days`
   * from now; `extensions` are lines of an openssl config section (`basicConstraints=CA:TRUE`).
   */
  async issue(
    publicKey: Uint8Array,
    subject: string,
    days: number,
    extensions?: string,
  ): Promise<Uint8Array> {
    const pem = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' }).export({
      type: 'spki',
      format: 'pem',
    });
    const n = createHash('sha256').update(publicKey).update(String(Math.random())).digest('hex').slice(0, 12);
    await writeFile(path.join(this.dir, `${n}.pub.pem`), pem);
    const extensionArgs: string[] = [];
    if (extensions) {
      await writeFile(path.join(this.dir, `${n}.cnf`), `[v3]\n${extensions}\n`);
      extensionArgs.push('-extfile', `${n}.cnf`, '-extensions', 'v3');
    }
    await run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        'any.csr',
        '-force_pubkey',
        `${n}.pub.pem`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key.pem',
        '-CAcreateserial',
        '-days',
        String(days),
        '-subj',
        subject,
        ...extensionArgs,
        '-outform',
        'DER',
        '-out',
        `${n}.der`,
      ],
      { cwd: this.dir },
    );
    return new Uint8Array(await readFile(path.join(this.dir, `${n}.der`)));
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** How a `ScriptedEnroller` answers. */
export type EnrollerScript = 'issue' | 'pending' | 'unreachable' | 'refuse' | 'wrong-ca' | 'other-key';

/**
 * An `Enroller` in memory for tests of core's enrollment (claims, retries, roaming): it answers as
 * told, issuing from an `OpensslCa`, and records each call. The protocols have their own plugins,
 * tested against real servers.
 */
export class ScriptedEnroller implements Enroller {
  readonly calls: Array<{ readonly op: 'request' | 'poll'; readonly renewing: boolean }> = [];
  /** The next answers, one per call; the last one repeats. */
  script: EnrollerScript[] = ['issue'];
  /** Waits before answering (to hold a claim while another endpoint tries). */
  delay: Promise<void> | undefined;

  constructor(
    private readonly ca: OpensslCa,
    /** Validity of what it issues, in days (from the real time: openssl does not take a clock). */
    public days = 30,
  ) {}

  async request(request: EnrollmentRequest): Promise<EnrollmentOutcome> {
    this.calls.push({ op: 'request', renewing: request.renewing !== undefined });
    return this.#answer(request.key.publicKey, request.subject);
  }

  async poll(input: EnrollmentPoll): Promise<EnrollmentOutcome> {
    this.calls.push({ op: 'poll', renewing: false });
    return this.#answer(input.key.publicKey, Buffer.from(input.state).toString('utf8'));
  }

  async #answer(publicKey: Uint8Array, subject: string): Promise<EnrollmentOutcome> {
    await this.delay;
    const step = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
    const openssl = `/${subject.split(',').reverse().join('/')}`;
    switch (step) {
      case 'pending':
        return { status: 'pending', state: new Uint8Array(Buffer.from(subject)), checkAfterSeconds: 0 };
      case 'unreachable':
        throw new CredroamError('E_UNREACHABLE', 'the CA at http://127.0.0.1:9/ does not answer');
      case 'refuse':
        throw new CredroamError('E_ENROLL_REFUSED', 'the CA refused the request: badMessageCheck');
      case 'wrong-ca': {
        const other = await OpensslCa.create('Someone Else');
        try {
          return {
            status: 'issued',
            certificate: await other.issue(publicKey, openssl, this.days),
            caCertificates: [other.certificate],
          };
        } finally {
          await other.dispose();
        }
      }
      case 'other-key': {
        const { publicKey: theirs } = await import('node:crypto').then((c) =>
          c.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
        );
        const der = new Uint8Array(theirs.export({ type: 'spki', format: 'der' }));
        return {
          status: 'issued',
          certificate: await this.ca.issue(der, openssl, this.days),
          caCertificates: [this.ca.certificate],
        };
      }
      default:
        return {
          status: 'issued',
          certificate: await this.ca.issue(publicKey, openssl, this.days),
          caCertificates: [this.ca.certificate],
        };
    }
  }
}
