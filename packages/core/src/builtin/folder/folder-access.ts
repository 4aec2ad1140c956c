import { access, constants, lstat, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CredroamError } from '../../api/errors.js';

/**
 * One finding about the folder directory as this process's user meets it: whether the root is
 * there, and whether the user may use their folder in it. The store's errors and `credroam doctor`
 * say the same thing from it, with the same `fix` (one text, two readers).
 *
 * The code a failing check carries follows what the user can still do:
 * - `E_UNREACHABLE`: the user cannot read their folder (the root is not there, or the folder is
 *   missing where they may not make it, or is not theirs). As for a server that does not answer, a
 *   logon opens the keys from this endpoint's copy, and the agent tries again until it reads.
 * - `E_ACCESS`: the user reads the folder but may not write it (as an LDAP identity the directory's
 *   ACL lets read and not write): nothing roams out of this endpoint until an administrator fixes it.
 * - `E_DIRECTORY`: a link, or something other than a folder, where the user's folder should be.
 */
export interface FolderCheck {
  readonly check: 'reachability' | 'write';
  readonly ok: boolean;
  readonly detail: string;
  /** When it fails: the error the store throws, and what fixes it (a command to run as root). */
  readonly code?: 'E_UNREACHABLE' | 'E_ACCESS' | 'E_DIRECTORY';
  readonly fix?: string;
  readonly path?: string;
}

/** The account this process runs as, as `install -o` and `chown` take it. */
function account(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}

const errno = (error: unknown): string => String((error as NodeJS.ErrnoException).code);
const denied = (code: string) => code === 'EACCES' || code === 'EPERM';
/** undefined when this user may, else the errno that says why not. */
const refusal = (file: string, mode: number) =>
  access(file, mode).then(
    () => undefined,
    (error: unknown) => errno(error),
  );

/** The root cannot be found (a share not mounted, a typo): never made by a sync, which would fork the directory. */
export function unreachableRoot(root: string, why: string): FolderCheck {
  return {
    check: 'reachability',
    ok: false,
    code: 'E_UNREACHABLE',
    detail: `the directory folder ${root} cannot be reached (${why}; is the share mounted?)`,
    fix: `mount the share, or make the folder: install -d -m 0755 ${root}`,
    path: root,
  };
}

const giveBack = (dir: string) =>
  `give the user their folder: chown -R ${account()} ${dir} && chmod 0700 ${dir}`;

/**
 * The root and the user's folder `dir` in it, as this process's user finds them, the failing check
 * last. Reads nothing of the user's, writes nothing. A user's folder that is missing is fine where
 * the user may make it (a root of their own: the first write makes it, 0700); in a root only root
 * may write (docs/admin/deploying.md), the administrator makes it.
 */
export async function checkFolderAccess(root: string, dir: string): Promise<FolderCheck[]> {
  const who = account();
  const rootStat = await stat(root).catch((error: unknown) => errno(error));
  if (typeof rootStat === 'string') {
    if (!denied(rootStat)) return [unreachableRoot(root, rootStat)];
    return [
      {
        check: 'reachability',
        ok: false,
        code: 'E_UNREACHABLE',
        detail: `this user (${who}) may not reach the directory folder ${root} (${rootStat})`,
        fix: `let the user through each folder above it (namei -l ${root} shows their modes)`,
        path: root,
      },
    ];
  }
  if (!rootStat.isDirectory()) return [unreachableRoot(root, 'not a folder')];
  const reachable: FolderCheck = { check: 'reachability', ok: true, detail: `${root} is a folder` };
  const ok = (detail: string): FolderCheck[] => [reachable, { check: 'write', ok: true, detail }];
  const fail = (code: FolderCheck['code'], detail: string, fix: string): FolderCheck[] => [
    reachable,
    { check: 'write', ok: false, code, detail, fix, path: dir },
  ];
  const own = await lstat(dir).catch((error: unknown) => errno(error));
  if (own === 'ENOENT') {
    const refused = await refusal(root, constants.W_OK | constants.X_OK);
    if (refused === undefined)
      return ok(`${dir} does not exist yet: this user may make it (the first sync does)`);
    return fail(
      'E_UNREACHABLE',
      `${dir} does not exist, and this user (${who}) may not make it in ${root} (${refused})`,
      `create the user's folder: install -d -m 0700 -o ${who} ${dir}`,
    );
  }
  if (typeof own === 'string') {
    return denied(own)
      ? fail(
          'E_UNREACHABLE',
          `this user (${who}) may not look into ${root} (${own})`,
          `let users enter it: chmod 0755 ${root}`,
        )
      : fail('E_UNREACHABLE', `${dir} cannot be examined (${own})`, giveBack(dir));
  }
  if (!own.isDirectory()) {
    return fail(
      'E_DIRECTORY',
      `${dir} is ${own.isSymbolicLink() ? 'a link' : 'not a folder'} (the folder directory never follows links)`,
      "replace it with the user's real folder (or remove it), then sync again",
    );
  }
  const mode = `owner uid ${own.uid}, mode ${(own.mode & 0o777).toString(8).padStart(4, '0')}`;
  if ((await refusal(dir, constants.R_OK | constants.X_OK)) !== undefined) {
    return fail('E_UNREACHABLE', `this user (${who}) may not read ${dir} (${mode})`, giveBack(dir));
  }
  for (const name of ['stamp', 'values']) {
    const file = path.join(dir, name);
    const refused = await refusal(file, constants.R_OK);
    if (refused !== undefined && refused !== 'ENOENT') {
      return fail('E_UNREACHABLE', `this user (${who}) may not read ${file} (${refused})`, giveBack(dir));
    }
  }
  const refused = await refusal(dir, constants.W_OK);
  if (refused === 'EROFS')
    return fail('E_ACCESS', `${dir} is on a read-only file system`, 'mount the share read-write');
  if (refused !== undefined) {
    return fail('E_ACCESS', `this user (${who}) may read ${dir} but not write it (${mode})`, giveBack(dir));
  }
  return ok(`this user may write ${dir}`);
}

/** A refusal the checks do not explain (a file in the folder made another user's meanwhile). */
export function refusedIn(dir: string, why: string, writing: boolean): FolderCheck {
  return {
    check: 'write',
    ok: false,
    code: writing ? 'E_ACCESS' : 'E_UNREACHABLE',
    detail: `this user (${account()}) may not ${writing ? 'write' : 'read'} the files in ${dir} (${why})`,
    fix: giveBack(dir),
    path: dir,
  };
}

/** The store's error for a failing check: what is wrong, that nothing was done, and the fix. */
export function folderError(check: FolderCheck): CredroamError {
  return new CredroamError(
    check.code ?? 'E_ACCESS',
    `${check.detail}: ${check.code === 'E_ACCESS' ? 'nothing was written' : 'nothing was read or written'}; fix: ${check.fix}`,
    { path: check.path },
  );
}

/** The errno of an error that is the file system refusing this user (`checkFolderAccess` says why), else undefined. */
export function accessDenied(error: unknown): string | undefined {
  const code = errno(error);
  return denied(code) || code === 'EROFS' ? code : undefined;
}
