import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  CredroamError,
  type LockHeld,
  RefusedFileError,
  readFileNoFollow,
  UserLock,
  writeFileAtomic,
} from '@credroam/core';
import type { Pkcs12Api } from '@credroam/plugin-pkcs12';
import { MAX_REQUEST_CHARS } from '../../daemon/ipc.js';
import type { Session } from '../../session.js';
import {
  attributesContent,
  type CredentialParts,
  certificateId,
  checkCredentials,
  credentialParts,
  credentialPartsOf,
  credentialViews,
  findCredential,
  type ImportedCredential,
  oneCredentialListing,
  storeCredentials,
} from '../credentials.js';
import { ExitCode, UsageError } from '../io.js';
import { readPassArg } from '../secrets.js';
import {
  type Args,
  askAgentWithKeys,
  type Context,
  out,
  str,
  unlock,
  userKeys,
  withSession,
} from './shared.js';

// --- import, export, remove ------------------------------------------------------------------------

/** The largest file `import` reads: far above any credential file (a PKCS#12 with a long chain is kilobytes, a CA bundle a few hundred). */
const MAX_IMPORT_BYTES = 1024 * 1024;

/**
 * Reads one file `import` was given: opened once, without following a link at its name, and what
 * was opened is checked (a regular file; at most `MAX_IMPORT_BYTES` read, whatever its size says),
 * so nothing can be swapped in between. Errors name the full path tried (`pnpm credroam` runs the
 * CLI from the checkout's root, not the folder the user typed it in).
 */
async function readImportFile(file: string): Promise<Uint8Array> {
  const full = path.resolve(file);
  const refuse = (why: string): never => {
    throw new CredroamError('E_IMPORT', `cannot read ${full}: ${why}`, { file: full });
  };
  const content = await readFileNoFollow(full, { maxBytes: MAX_IMPORT_BYTES }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error instanceof RefusedFileError)
        return refuse(
          error.reason === 'too-large' ? `larger than ${MAX_IMPORT_BYTES >> 20} MiB` : 'not a regular file',
        );
      if (error.code === 'ELOOP')
        return refuse('a symbolic link: give the file it points to (credroam follows no links)');
      if (error.code === 'EACCES') return refuse('permission denied (EACCES)');
      if (error.code === 'EISDIR') return refuse('a folder, not a file (EISDIR)');
      return refuse(error.code ?? error.message);
    },
  );
  return content ? new Uint8Array(content) : refuse('no such file (ENOENT)');
}

export async function importCredential(args: Args, ctx: Context): Promise<number> {
  const files = args.positionals;
  if (files.length === 0 || files.length > 2) {
    throw new UsageError('import takes one PKCS#12 file, or a PEM certificate and a PEM key', {
      files: files.length,
    });
  }
  const passin = str(args.values.passin);
  if (passin === 'stdin' && args.values['password-stdin']) {
    throw new UsageError('--passin stdin and --password-stdin cannot both read standard input');
  }
  const filePassword = passin ? await readPassArg(passin, '--passin', ctx.io) : undefined;
  const data = await Promise.all(files.map((f) => readImportFile(f)));
  return withSession(args, ctx, async (s) => {
    const api = await pkcs12Api(s, 'import');
    const read = await api.readCredentials(data, filePassword).catch((error: unknown) => {
      // Without --passin the file was tried with no password: one that has a password needs it.
      if (
        filePassword === undefined &&
        error instanceof CredroamError &&
        (error.code === 'E_PKCS12_PASSWORD' || error.code === 'E_PASSWORD_REQUIRED')
      ) {
        throw new CredroamError(
          'E_PASSIN_NEEDED',
          `${files[0]} is protected by a password: give it with --passin file:PATH, env:VAR, fd:N or stdin`,
          { file: files[0] },
        );
      }
      throw error;
    });
    const ignored = [
      ...read.notices,
      ...(read.ignoredCertificates > 0
        ? [
            `${read.ignoredCertificates} certificate(s) in the file belong to no credential and were not imported`,
          ]
        : []),
    ]
      .map((n) => `\n(${n})`)
      .join('');
    if (args.values['dry-run']) {
      const wouldImport = read.credentials.map((c: CredentialParts) => {
        const sha256 = certificateId(c.cert);
        // Checked as the import would: a name or chain out of bounds is refused here too.
        attributesContent(sha256, c);
        return {
          sha256,
          hasKey: Boolean(c.key),
          ...(c.friendlyName ? { friendlyName: c.friendlyName.normalize('NFC') } : {}),
          ...(c.chain?.length ? { chainLength: c.chain.length } : {}),
        };
      });
      out(
        ctx,
        { dryRun: true, wouldImport, ignoredCertificates: read.ignoredCertificates, notices: read.notices },
        `${wouldImport
          .map(
            (i) => `would import ${i.sha256}${i.hasKey ? ' with its private key' : ''}${attributesText(i)}`,
          )
          .join('\n')}${ignored}\n(dry run: nothing was written)`,
      );
      return ExitCode.Done;
    }
    // Everything was read and checked before anything is written.
    checkCredentials(read.credentials);
    const keys = read.credentials.some((c) => c.key) ? await userKeys(args, ctx) : undefined;
    let imported: ImportedCredential[];
    if (keys && 'agent' in keys) {
      // The agent encrypts the keys at rest with the keys it holds, one credential at a time.
      imported = [];
      for (const c of read.credentials as readonly CredentialParts[]) {
        const request = {
          cmd: 'import',
          cert: Buffer.from(c.cert).toString('base64'),
          ...(c.key ? { key: Buffer.from(c.key).toString('base64') } : {}),
          ...(c.chain?.length ? { chain: c.chain.map((d) => Buffer.from(d).toString('base64')) } : {}),
          ...(c.friendlyName ? { friendlyName: c.friendlyName } : {}),
        } as const;
        if (JSON.stringify(request).length >= MAX_REQUEST_CHARS) {
          throw new CredroamError(
            'E_TOO_LARGE_FOR_AGENT',
            `the credential ${certificateId(c.cert)} is too large to hand to the agent; give the roaming password instead (--password-file FILE)`,
            { sha256: certificateId(c.cert) },
          );
        }
        const answer = await askAgentWithKeys(ctx, request);
        imported.push({
          sha256: String(answer.sha256),
          hasKey: answer.hasKey === true,
          ...(typeof answer.friendlyName === 'string' ? { friendlyName: answer.friendlyName } : {}),
          ...(typeof answer.chainLength === 'number' ? { chainLength: answer.chainLength } : {}),
        });
      }
    } else {
      if (keys) await unlock(s, keys.password);
      imported = await storeCredentials(s.local, read.credentials);
    }
    out(
      ctx,
      { imported, ignoredCertificates: read.ignoredCertificates, notices: read.notices },
      imported
        .map((i) => `imported ${i.sha256}${i.hasKey ? ' with its private key' : ''}${attributesText(i)}`)
        .join('\n') + ignored,
    );
    return ExitCode.Done;
  });
}

export async function exportCredential(args: Args, ctx: Context): Promise<number> {
  const thumbprint = args.positionals[0]!;
  const target = str(args.values.out);
  const passout = str(args.values.passout);
  if (!target || !passout) throw new UsageError('export needs --out FILE.p12 and --passout SPEC');
  if (passout === 'stdin' && args.values['password-stdin']) {
    throw new UsageError('--passout stdin and --password-stdin cannot both read standard input');
  }
  const filePassword = await readPassArg(passout, '--passout', ctx.io);
  return withSession(args, ctx, async (s) => {
    // Found without the keys (a prefix, a SHA-1); the keys are needed only for a private key. A
    // whole SHA-256 reads that credential's files alone.
    const listing = (await oneCredentialListing(s.local, thumbprint)) ?? (await s.local.list());
    const { view } = credentialParts(listing, thumbprint);
    const keys = view.hasKey ? await userKeys(args, ctx) : undefined;
    let parts: CredentialParts;
    if (keys && 'agent' in keys) {
      const answer = await askAgentWithKeys(ctx, { cmd: 'export', sha256: view.sha256 });
      const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
      parts = {
        cert: bytes(String(answer.cert)),
        ...(typeof answer.key === 'string' ? { key: bytes(answer.key) } : {}),
        ...(Array.isArray(answer.chain) ? { chain: answer.chain.map((c) => bytes(String(c))) } : {}),
        ...(typeof answer.friendlyName === 'string' ? { friendlyName: answer.friendlyName } : {}),
      };
    } else {
      if (keys) await unlock(s, keys.password);
      // Only this credential's key is read and decrypted (a store with `get`), not the whole store.
      const { view: _, ...found } = await credentialPartsOf(s.local, listing, view.sha256);
      parts = found;
    }
    const { key } = parts;
    if (view.hasKey && !key) {
      throw new CredroamError(
        'E_KEY_UNREADABLE',
        `the private key of ${view.sha256} did not open; nothing was written`,
        {
          sha256: view.sha256,
          keyId: view.keyId,
        },
      );
    }
    const api = await pkcs12Api(s, 'export');
    // The chain and the friendly name go into the file with the certificate and key.
    const pfx = await api.writePkcs12(parts, filePassword);
    const file = path.resolve(target);
    if (
      !args.values.force &&
      (await stat(file).then(
        () => true,
        () => false,
      ))
    ) {
      throw new CredroamError('E_EXISTS', `${file} already exists; add --force to replace it`, { file });
    }
    await writeFileAtomic(file, pfx);
    out(
      ctx,
      { sha256: view.sha256, file, hasKey: Boolean(key) },
      `exported ${view.sha256}${key ? ' with its private key' : ''} to ${file}`,
    );
    return ExitCode.Done;
  });
}

export async function remove(args: Args, ctx: Context): Promise<number> {
  const thumbprint = args.positionals[0]!;
  // Under the user's sync lock: a sync of another process (the agent's) that is writing this very
  // credential (a download, a key sealed again) must not put it back after it was removed.
  return withSession(args, ctx, (s) =>
    s.container.resolve<UserLock>(UserLock).run((held) => removeOne(s, thumbprint, args, ctx, held)),
  );
}

async function removeOne(
  s: Session,
  thumbprint: string,
  args: Args,
  ctx: Context,
  held: LockHeld,
): Promise<number> {
  const listing = await s.local.list();
  const views = credentialViews(listing, undefined);
  const view = findCredential(views, thumbprint);
  if (!view)
    throw new CredroamError('E_NOT_FOUND', `no credential with thumbprint ${thumbprint} on this endpoint`, {
      thumbprint,
    });
  // A key another certificate here also uses (a renewal that kept its key, an archived
  // predecessor) stays: its removal would roam as a tombstone and cost that certificate its key on
  // every endpoint.
  const keyShared = views.some((v) => v.sha256 !== view.sha256 && v.keyId === view.keyId);
  if (args.values['dry-run']) {
    out(
      ctx,
      {
        dryRun: true,
        wouldRemove: view.sha256,
        hasKey: view.hasKey,
        subject: view.subject,
        ...(view.hasKey && keyShared ? { keyKept: true } : {}),
      },
      `would remove ${view.sha256} (${view.subject})${view.hasKey ? (keyShared ? ' (its private key stays: another certificate here uses it)' : ' and its private key') : ''}\n(dry run: nothing was removed)`,
    );
    return ExitCode.Done;
  }
  const keepUntil = Date.now() + s.policy.roaming.tombstoneLifetimeDays * 86_400_000;
  held.throwIfLost(); // a sync of another process may hold the lock now (this one paused past it)
  await s.local.remove('cert', view.sha256, { keepUntil });
  if (view.hasKey && !keyShared) await s.local.remove('key', view.keyId, { keepUntil });
  // Its friendly name and chain go with it (a store may have taken them with the certificate).
  await s.local.remove('attrs', view.sha256, { keepUntil });
  out(
    ctx,
    {
      removed: view.sha256,
      hasKey: view.hasKey,
      keptUntil: new Date(keepUntil).toISOString(),
      ...(view.hasKey && keyShared ? { keyKept: true } : {}),
    },
    `removed ${view.sha256}${view.hasKey && keyShared ? ' (its private key stays: another certificate here uses it)' : ''}; the deletion roams at the next sync (a copy stays in the store's removed/ folder until ${new Date(keepUntil).toISOString()})`,
  );
  return ExitCode.Done;
}

/** ` (My VPN, 2 CA certificates)`: what an import carried besides the certificate and key. */
function attributesText(i: { readonly friendlyName?: string; readonly chainLength?: number }): string {
  const parts = [
    ...(i.friendlyName !== undefined ? [JSON.stringify(i.friendlyName)] : []),
    ...(i.chainLength ? [`${i.chainLength} CA certificate${i.chainLength === 1 ? '' : 's'}`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The pkcs12 plugin's API, activated by the command's event; a clear error when it is not there. */
async function pkcs12Api(s: Session, command: 'import' | 'export'): Promise<Pkcs12Api> {
  await s.host.activateByEvent(`onCommand:${command}`);
  const api = s.host.api<Pkcs12Api>('credroam.pkcs12');
  if (!api)
    throw new CredroamError(
      'E_PLUGIN_FAILED',
      `${command} needs the credroam.pkcs12 plugin, which is not active`,
    );
  return api;
}
