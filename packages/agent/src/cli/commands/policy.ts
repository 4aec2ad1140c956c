import { X509Certificate } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import {
  CORE_VERSION,
  CredroamError,
  canonicalJson,
  certificatesOfPem,
  checkPolicyBundleDocument,
  hashPluginFiles,
  POLICY_BUNDLE_MAX_BYTES,
  parseBoundedJson,
  readFileNoFollow,
  signPolicyBundle,
  verifyPolicyBundle,
  writeFileAtomic,
} from '@credroam/core';
import { loadConfig } from '../../config.js';
import { describePolicyOrigin, loadPolicy, policySourcePlugins } from '../../policy.js';
import { ExitCode, UsageError } from '../io.js';
import { type Args, type Context, out, str } from './shared.js';

// --- policy validate | sign | verify | show | hash-plugin --------------------------------------------

/** `credroam policy SUBCOMMAND …`: the signed site policy bundle (docs/admin/policy.md). */
export async function policy(args: Args, ctx: Context): Promise<number> {
  const [sub, operand] = args.positionals;
  const need = (what: string) => {
    if (!operand) throw new UsageError(`credroam policy ${sub} needs ${what}`);
    return operand;
  };
  switch (sub) {
    case 'validate':
      return validate(need('the document FILE'), ctx);
    case 'sign':
      return sign(need('the document FILE'), args, ctx);
    case 'verify':
      return verify(need('the BUNDLE file'), args, ctx);
    case 'show':
      return show(args, ctx);
    case 'hash-plugin':
      return hashPlugin(need('the plugin package folder DIR'), ctx);
    default:
      throw new UsageError(
        'credroam policy takes validate FILE, sign FILE, verify BUNDLE, show or hash-plugin DIR',
      );
  }
}

async function readDocument(
  file: string,
): Promise<{ ok: true; value: unknown } | { ok: false; problems: string[] }> {
  const data = await readFileNoFollow(file, { maxBytes: POLICY_BUNDLE_MAX_BYTES }).catch((error: Error) => {
    throw new CredroamError('E_POLICY_SCHEMA', `cannot read ${file}: ${error.message}`, { file });
  });
  if (!data) throw new CredroamError('E_POLICY_SCHEMA', `${file} does not exist`, { file });
  const json = parseBoundedJson(data.toString('utf8'));
  return json.ok ? json : { ok: false, problems: [`/: ${json.reason}`] };
}

async function validate(file: string, ctx: Context): Promise<number> {
  const doc = await readDocument(file);
  const checked = doc.ok ? checkPolicyBundleDocument(doc.value) : doc;
  const problems = checked.ok ? [] : checked.problems;
  const warnings = checked.ok ? await documentWarnings(checked.bundle.document.plugins) : [];
  out(
    ctx,
    { ok: checked.ok, file, problems, warnings },
    [
      ...(checked.ok ? [`${file}: valid`] : problems.map((p) => `${file}: ${p}`)),
      ...warnings.map((w) => `${file}: warning: ${w}`),
    ].join('\n'),
  );
  return checked.ok ? ExitCode.Done : ExitCode.Failed;
}

/**
 * What a valid document may still get wrong for the endpoints that obey it: said, not refused (a
 * site may fetch bundles with a plugin of its own). An allow-list without any plugin that fetches
 * bundles leaves its endpoints unable to receive a newer one: only a reinstall undoes it.
 */
async function documentWarnings(plugins: readonly { readonly id: string }[]): Promise<string[]> {
  const sources = await policySourcePlugins({ file: undefined });
  const allowed = new Set(plugins.map((p) => p.id));
  if (sources.some((id) => allowed.has(id))) return [];
  return [
    `/plugins: allows none of the plugins that fetch policy bundles (${sources.join(', ')}): ` +
      'an endpoint that obeys it can never receive a newer bundle (unless a plugin of your own fetches them)',
  ];
}

/** Reads the signing key: a file only its owner can read (not a link), or standard input. */
async function readSigningKey(args: Args, ctx: Context): Promise<string> {
  if (args.values['key-stdin']) return ctx.io.stdin();
  const file = str(args.values.key);
  if (!file) throw new UsageError('policy sign needs the signing key: --key FILE or --key-stdin');
  const refuse = (why: string) =>
    new CredroamError('E_POLICY_SIGNER', `the signing key ${file} ${why}`, { file });
  const handle = await open(file, 'r').catch((error: Error) => {
    throw refuse(`cannot be read: ${error.message}`);
  });
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse('is not a regular file');
    if (st.mode & 0o077)
      throw refuse(`can be read by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
    if (st.uid !== process.getuid?.()) throw refuse('is not owned by the user running credroam');
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

async function sign(file: string, args: Args, ctx: Context): Promise<number> {
  const certFile = str(args.values.cert);
  if (!certFile) throw new UsageError('policy sign needs the signing certificate: --cert FILE');
  const doc = await readDocument(file);
  const checked = doc.ok ? checkPolicyBundleDocument(doc.value) : doc;
  if (!checked.ok || !doc.ok)
    throw new CredroamError(
      'E_POLICY_SCHEMA',
      `${file} is not a valid policy document: ${checked.ok ? '' : checked.problems.join('; ')}`,
      {
        file,
      },
    );
  const keyPem = await readSigningKey(args, ctx);
  const readPem = async (f: string) =>
    (await readFileNoFollow(f, { maxBytes: 65_536 }))?.toString('utf8') ?? '';
  const chain = str(args.values.chain);
  // What is signed is the canonical form of the document as written (defaults not filled in).
  const bytes = signPolicyBundle(new TextEncoder().encode(canonicalJson(doc.value)), {
    keyPem,
    certPem: await readPem(certFile),
    ...(chain ? { chainPems: [await readPem(chain)] } : {}),
  });
  const target = str(args.values.out) ?? `${file.replace(/\.json$/, '')}.p7m`;
  await writeFileAtomic(path.resolve(target), bytes, 0o644);
  const d = checked.bundle.document;
  const warnings = await documentWarnings(d.plugins);
  out(
    ctx,
    { out: target, siteId: d.siteId, serial: d.serial, bytes: bytes.byteLength, warnings },
    [
      `${target}: site ${d.siteId}, serial ${d.serial}, ${bytes.byteLength} bytes`,
      ...warnings.map((w) => `warning: ${w}`),
    ].join('\n'),
  );
  return ExitCode.Done;
}

async function verify(file: string, args: Args, ctx: Context): Promise<number> {
  const rootFile = str(args.values.root);
  if (!rootFile) throw new UsageError('policy verify needs the site policy root: --root FILE');
  const bytes = await readFileNoFollow(file, { maxBytes: POLICY_BUNDLE_MAX_BYTES + 1 });
  if (!bytes) throw new UsageError(`${file} does not exist`);
  // The root given here is the administrator's own copy: read it as a PEM file, not as the endpoint's root-owned one.
  const rootText = (await readFileNoFollow(rootFile, { maxBytes: 65_536 }))?.toString('utf8') ?? '';
  const roots: X509Certificate[] = certificatesOfPem(rootText);
  if (roots.length === 0)
    throw new CredroamError('E_POLICY_ROOT', `${rootFile} holds no PEM certificate`, { file: rootFile });
  const site = str(args.values.site) ?? siteOf(bytes);
  const v = await verifyPolicyBundle(new Uint8Array(bytes), {
    roots,
    siteId: site,
    now: new Date(),
    agentVersion: CORE_VERSION,
  });
  out(
    ctx,
    { ok: v.ok, checks: v.checks, ...(v.ok ? {} : { failed: v.failed, code: v.code }) },
    v.checks
      .map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.code ? ` (${c.code})` : ''}`)
      .join('\n'),
  );
  return v.ok ? ExitCode.Done : ExitCode.Failed;
}

/** Without --site: the bundle's own siteId, read only to name it (the signature check runs first anyway). */
function siteOf(bytes: Uint8Array): string {
  const m = /"siteId"\s*:\s*"([^"]{1,128})"/.exec(Buffer.from(bytes).toString('latin1'));
  return m?.[1] ?? '';
}

async function show(args: Args, ctx: Context): Promise<number> {
  const config = await loadConfig(str(args.values.config), ctx.io.env);
  const loaded = await loadPolicy(config);
  out(
    ctx,
    { origin: loaded.origin, policy: loaded.policy, allowList: loaded.allowList ?? null },
    [
      `in force: ${describePolicyOrigin(loaded.origin)}`,
      `allow-list: ${loaded.allowList ? loaded.allowList.map((e) => `${e.id}@${e.version}`).join(', ') || '(empty)' : 'unrestricted'}`,
    ].join('\n'),
  );
  return ExitCode.Done;
}

async function hashPlugin(dir: string, ctx: Context): Promise<number> {
  const pkg = (await readFileNoFollow(path.join(dir, 'package.json'), { maxBytes: 1 << 20 }))?.toString(
    'utf8',
  );
  const manifest = pkg ? (JSON.parse(pkg) as { version?: string; credroam?: { id?: string } }) : {};
  if (!manifest.credroam?.id || !manifest.version)
    throw new CredroamError(
      'E_PLUGIN_FILES',
      `${dir}/package.json names no credroam.id and version: not a credroam plugin`,
      { dir },
    );
  const entry = {
    id: manifest.credroam.id,
    version: `^${manifest.version}`,
    files: await hashPluginFiles(dir),
  };
  ctx.io.stdout(`${JSON.stringify(entry, null, 2)}\n`);
  return ExitCode.Done;
}
