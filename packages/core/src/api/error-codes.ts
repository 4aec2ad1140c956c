/**
 * Who can act on an error: the endpoint's `user`, the site's `admin`, a `developer` (a bug in
 * credroam or a plugin: report it), or `none` (it passes by itself: the next sync or a retry).
 */
export type ErrorActor = 'user' | 'admin' | 'developer' | 'none';

/** What an error code means, who can act on it, and what they do. */
export interface ErrorCodeInfo {
  readonly meaning: string;
  readonly who: ErrorActor;
  readonly action: string;
}

/**
 * Every code a `CredroamError` carries: a closed set, one meaning each, never reused. The message
 * of an error is for people and may change; the code is what programs (and `--json` readers) test.
 * `docs/admin/errors.md` lists the same codes (a test keeps the two equal).
 *
 * Adding a code: one line here (and its row in errors.md). Third-party plugins do not add codes:
 * they throw one of these where it fits, or `PluginError` (`E_PLUGIN`) with their own code in it.
 */
// biome-ignore format: a table, one line per code
export const ERROR_CODES = {
  // The command line and the files it is given.
  E_USAGE:                     { who: 'user',      meaning: 'A command line credroam does not accept (a flag the command does not take, a missing argument), or a request the agent does not understand.', action: 'See `credroam <command> --help`.' },
  E_NO_CONFIG:                 { who: 'user',      meaning: 'No agent manifest: credroam is not set up for this user.', action: 'Run `credroam init` (docs/admin/deploying.md).' },
  E_THUMBPRINT_INVALID:        { who: 'user',      meaning: 'A thumbprint that is not hexadecimal.', action: 'Copy the SHA-256 or SHA-1 thumbprint from `credroam list`.' },
  E_THUMBPRINT_TOO_SHORT:      { who: 'user',      meaning: 'A thumbprint prefix shorter than 8 digits.', action: 'Give at least 8 digits (`credroam list` shows them).' },
  E_EXISTS:                    { who: 'user',      meaning: 'The file to write already exists.', action: 'Add --force to replace it, or write to another name.' },
  E_NOT_FOUND:                 { who: 'user',      meaning: 'No credential on this endpoint has that thumbprint.', action: 'Check the thumbprint with `credroam list`.' },
  E_AMBIGUOUS:                 { who: 'user',      meaning: 'A thumbprint prefix matches more than one credential.', action: 'Give more digits of the thumbprint (`credroam list` shows them).' },
  E_SECRET:                    { who: 'user',      meaning: 'A password cannot be read from where it was said to be (a file, a variable), or its file holds more than 64 KiB (not a password file).', action: 'Check the file or variable the message names, and that the user can read it.' },
  E_CONFIG:                    { who: 'admin',     meaning: 'The agent manifest, or a plugin\'s settings in it, is missing or invalid, or names a file that cannot be read.', action: 'Fix what the message names; `credroam init` writes a manifest (docs/admin/deploying.md).' },
  E_POLICY:                    { who: 'admin',     meaning: 'The site policy cannot be read or is invalid.', action: 'Fix the policy file; the message names each problem.' },
  // The signed site policy bundle (issue 12).
  E_POLICY_FORMAT:             { who: 'admin',     meaning: 'A policy bundle is not a credroam bundle: not a DER CMS SignedData with its content attached, larger than 256 KiB, or beyond the bounds (one signer, at most 8 certificates, JSON nested at most 32 deep).', action: 'Sign the document again with `credroam policy sign` (or `openssl cms -sign -binary -nodetach -outform DER`, docs/admin/policy.md).' },
  E_POLICY_SIGNATURE:          { who: 'admin',     meaning: 'A policy bundle\'s signature does not verify over its content: altered after signing, or damaged.', action: 'Fetch or sign it again; if it came from a directory or a share, find who wrote it.' },
  E_POLICY_CHAIN:              { who: 'admin',     meaning: 'A policy bundle\'s signer certificate does not chain to a site policy root of this endpoint, or a certificate of the chain is not valid now.', action: 'Sign with a certificate issued under the root installed on the endpoints (`credroam policy verify BUNDLE --root FILE` names the chain).' },
  E_POLICY_EKU:                { who: 'admin',     meaning: 'A policy bundle\'s signer certificate lacks the credroam policy-signing extended key usage, or is not among the next signers the bundle in force names.', action: 'Sign with a certificate carrying extendedKeyUsage 2.25.216519607882879097454534830734979144005 (docs/admin/policy.md), named in nextSigners when the bundle in force lists them.' },
  E_POLICY_SITE:               { who: 'admin',     meaning: 'A policy bundle is for another site (its siteId is not the one this endpoint is configured with).', action: 'Distribute the site\'s own bundle, or fix policy.siteId in the agent manifest.' },
  E_POLICY_EXPIRED:            { who: 'admin',     meaning: 'A policy bundle\'s notAfter has passed.', action: 'Sign a new bundle with a higher serial and a later notAfter, and distribute it.' },
  E_POLICY_NOT_YET_ISSUED:     { who: 'admin',     meaning: 'A policy bundle\'s issuedAt is later than now, beyond the clock skew allowed.', action: 'Check the clocks of the signing machine and of the endpoint.' },
  E_POLICY_SCHEMA:             { who: 'admin',     meaning: 'A signed policy bundle\'s document does not match the policy bundle schema (docs/policy-bundle.schema.json).', action: 'Fix the document (`credroam policy validate FILE` names each problem\'s place) and sign it again.' },
  E_POLICY_AGENT_VERSION:      { who: 'admin',     meaning: 'A policy bundle asks for a newer agent than this one (minAgentVersion).', action: 'Update credroam on the endpoint, or lower minAgentVersion if the bundle does not need the newer agent.' },
  E_POLICY_ROLLBACK:           { who: 'admin',     meaning: 'A policy bundle\'s serial is lower than the one this endpoint accepted last, or equal with different content.', action: 'Sign the new document with a serial higher than any distributed before.' },
  E_POLICY_ROOT:               { who: 'admin',     meaning: 'The site policy root file cannot be read, holds no certificate, or is not root-owned (the file or a folder above it is owned by another user, or writable by group or others).', action: 'Install the root as a file owned by root, mode 0644, in folders only root can write (docs/admin/policy.md).' },
  E_POLICY_RECORD:             { who: 'admin',     meaning: 'This endpoint\'s record of the accepted policy bundle is damaged: the built-in defaults are in force until a valid bundle is accepted.', action: 'Move the file the message names aside; the next policy refresh accepts the site\'s bundle again.' },
  E_POLICY_SIGNER:             { who: 'admin',     meaning: '`credroam policy sign` cannot use the key or certificate given (unreadable, not owner-only, a key that does not match the certificate, or an algorithm other than Ed25519, ECDSA P-256/P-384 or RSA).', action: 'Give the signing certificate\'s own private key, in a file only its owner can read, or on standard input.' },
  E_UNSUPPORTED:               { who: 'admin',     meaning: 'The selected plugin does not offer this operation (a token protector without a password, or without escrow recovery).', action: 'Select a plugin that offers it (the built-in pkcs12 protector does), or do without.' },
  // Credentials being imported or exported.
  E_IMPORT:                    { who: 'user',      meaning: 'The file to import is not a form credroam reads (PKCS#12, a certificate in PEM or DER, a PKCS#7 bundle, a private key), or it holds no certificate, or a key it cannot parse.', action: 'Check the file; export it again from where it came from.' },
  E_PASSIN_NEEDED:             { who: 'user',      meaning: 'The file to import is protected by a password and none was given.', action: 'Give the file\'s password with --passin file:PATH|env:VAR|fd:N|stdin.' },
  E_PASSWORD_REQUIRED:         { who: 'user',      meaning: 'The file to import is encrypted and no password was given for it.', action: 'Give its password with --passin.' },
  E_PEM:                       { who: 'user',      meaning: 'A PEM block in the file to import is damaged, or an algorithm credroam does not read.', action: 'Check the file (`openssl x509 -in FILE -noout`, `openssl pkey -in FILE -noout`).' },
  E_PKCS12_MALFORMED:          { who: 'user',      meaning: 'The file is not a PKCS#12 file, or it is damaged.', action: 'Check the file (`openssl pkcs12 -in FILE -info -noout`), or export it again.' },
  E_PKCS12_PASSWORD:           { who: 'user',      meaning: 'The password given for the PKCS#12 file is wrong: its MAC does not verify with it, nor with the empty password or none (or, in a file without a MAC, nothing decrypts).', action: 'Give the file\'s password with --passin.' },
  E_PKCS12_UNSUPPORTED:        { who: 'user',      meaning: 'The PKCS#12 file uses something credroam does not read (an encryption or MAC algorithm it names, public-key integrity or privacy, more bags or nesting than the bounds).', action: 'Export it again with OpenSSL 3\'s defaults (PBES2, AES-256, SHA-256 MAC).' },
  E_PKCS12_LEGACY:             { who: 'user',      meaning: 'The PKCS#12 file uses legacy encryption (RC2, RC4, single DES) and this Node\'s OpenSSL has no legacy provider to decrypt it.', action: 'Run credroam on a Node whose OpenSSL has the legacy provider (Node.js\'s own builds and Debian\'s do), or convert the file; the message shows the commands.' },
  E_PKCS12_ITERATIONS:         { who: 'user',      meaning: 'The PKCS#12 file asks for more key-derivation iterations than the import limit.', action: 'Export it again with fewer iterations (OpenSSL\'s default is fine).' },
  E_KEY_MISMATCH:              { who: 'user',      meaning: 'The private key in the file to import matches no certificate in it.', action: 'Export the certificate and its own key together.' },
  E_ATTRIBUTES_INVALID:        { who: 'user',      meaning: 'A credential\'s friendly name or CA chain is outside what credroam roams (a name over 256 characters or with control characters, more than 10 chain certificates, one that is not X.509 or over 16 KiB).', action: 'Give the credential a shorter plain name, or drop the extra certificates, and import it again (`openssl pkcs12` rewrites the file).' },
  E_KEY_UNREADABLE:            { who: 'user',      meaning: 'A private key on this endpoint cannot be opened: nothing was written.', action: 'Run `credroam doctor`; the message says why the key cannot be opened.' },
  // The user's keys.
  E_LOCKED:                    { who: 'user',      meaning: 'The keys are locked: this needs the roaming password, or a logon first.', action: 'Log on with the roaming password (`credroam logon --password-file FILE`, or `--password-stdin`), or give it to the command.' },
  E_WRONG_PASSWORD:            { who: 'user',      meaning: 'The password does not open the keys (or the encrypted key being imported); nothing was changed.', action: 'Give the current password; the message says what to do after a change made elsewhere.' },
  E_OFFLINE:                   { who: 'none',      meaning: 'This needs the directory, which is unreachable (a first logon here, a password change, a recovery).', action: 'Try again when the directory is reachable.' },
  E_NO_PASSWORD_KEY:           { who: 'admin',     meaning: 'The directory holds the user\'s keys wrapped only for the site\'s escrow key.', action: 'Recover them for the user: `credroam recover --escrow-key FILE --user NAME`.' },
  E_NO_USABLE_KEY:             { who: 'user',      meaning: 'The directory holds wrapped keys for the user, none usable here; no new key was made over them.', action: 'Log on at an endpoint that logged on before: it puts the key back. For a new account, an administrator clears the attribute.' },
  E_ESCROW_KEY:                { who: 'admin',     meaning: 'The escrow key cannot be read, or no key of the user is wrapped to it.', action: 'Give the escrow private key whose public key the policy named when the user\'s keys were made.' },
  E_KDF_BOUNDS:                { who: 'admin',     meaning: 'Key-derivation parameters outside the bounds credroam accepts.', action: 'Fix `protection.kdf` in the site policy; a wrapped key with such parameters in the directory is skipped (event 1021).' },
  E_AUTH:                      { who: 'admin',     meaning: 'A token failed authentication (AuthenticationError): altered, forged, or sealed for another user.', action: 'A sync skips it (event 1012); find who wrote the user\'s entry.' },
  // The local store and this endpoint's state.
  E_STORE_LINK:                { who: 'user',      meaning: 'A link where the local store keeps a folder: not followed, nothing written through it.', action: 'Replace the link the message names with a real folder, then sync again.' },
  E_STORE_NOT_FOLDER:          { who: 'user',      meaning: 'Something other than a folder where the local store keeps one: nothing written there.', action: 'Move it aside, then sync again.' },
  E_STATE:                     { who: 'admin',     meaning: 'This endpoint\'s sync state file is damaged, or belongs to another user.', action: 'Move the file the message names aside: the next sync compares both sides in full and records it again.' },
  E_SYNC_BUSY:                 { who: 'none',      meaning: 'Another credroam process is syncing this user (it holds the sync lock).', action: 'Try again when it is done; a lock left by a killed process expires after 15 s.' },
  // An NSS database as the local store (packages/plugin-nss; docs/admin/stores.md).
  E_NSS_DATABASE:              { who: 'admin',     meaning: 'No usable NSS database where the nss store\'s settings say (missing, not a folder, a link, or files others own).', action: 'Check `database` in the store\'s settings (docs/admin/stores.md); `certutil -L -d sql:DIR` must list it.' },
  E_NSS_PASSWORD:              { who: 'user',      meaning: 'The NSS database has a password credroam was not given, or the one in `passwordFile` is wrong: nothing was read or written.', action: 'Put the database\'s password in the file `passwordFile` names (owner-only), or remove the password (`certutil -W`).' },
  E_NSS_TOOL:                  { who: 'admin',     meaning: 'certutil or pk12util (libnss3-tools) is missing, or failed in a way credroam does not know; the message has its output.', action: 'Install libnss3-tools; if it is installed, run the command the message names by hand to see why it fails.' },
  E_NSS_KEY_WAITS:             { who: 'none',      meaning: 'A private key reached the NSS store before its certificate: NSS keeps a key with its certificate, so it waits (in memory, for as long as the process runs) and goes in with it. It is not stored until its certificate is.', action: 'In a sync, nothing: it goes in when its certificate does, in this sync or the next. If its certificate never comes (refused by NSS, see `E_NSS_KEY_TYPE`, or a key given without it), the key is not stored: import the certificate with its key (a PKCS#12, or a PEM certificate and key), or use the pkcs12 store.' },
  E_NSS_KEY_TYPE:              { who: 'user',      meaning: 'The NSS database cannot hold this kind of key, or a certificate for one (NSS 3.87 takes RSA and EC, not Ed25519): the credential stays in the directory and on endpoints that can hold it.', action: 'Use an RSA or EC credential for applications that read NSS, or the built-in pkcs12 store.' },
  // Mirrors: where else credentials land (docs/admin/stores.md).
  E_MIRROR_FOLDER:             { who: 'user',      meaning: 'A file mirror\'s folder is a link or not a folder: credroam writes nothing through it.', action: 'Replace it with a real folder (or remove it: credroam makes it, 0700), then sync again.' },
  E_MIRROR_STATE:              { who: 'admin',     meaning: 'A mirror\'s state file (what credroam gave it) is damaged: the mirror is not updated.', action: 'Move the file the message names aside: the next sync puts what is missing, and removes nothing it cannot tell it gave.' },
  // Enrollment (docs/admin/enrollment.md).
  E_ENROLL_CA_MISMATCH:        { who: 'admin',     meaning: 'The CA is not the one the enrollment profile pins: none of its certificates has the pinned fingerprint, or what it issued is not signed by that certificate or not for the key credroam made. Nothing was sent after the check and nothing is stored.', action: 'Check the profile\'s ca.fingerprint against the CA certificate (`openssl x509 -noout -fingerprint -sha256`); if it matches, someone is between the endpoint and the CA.' },
  E_ENROLL_REFUSED:            { who: 'admin',     meaning: 'The CA refused the request: a wrong challenge, a subject or key it does not sign, or a request it rejected. credroam tries again in a day.', action: 'The message has the CA\'s reason; fix the profile or the challenge, then run `credroam enroll`.' },
  E_ENROLL_PROTOCOL:           { who: 'admin',     meaning: 'The CA\'s reply is not a valid, authenticated answer to the request (not the protocol, unprotected or wrongly protected, another transaction, too large, the wrong content type; a certificate expired, not yet valid, or for a CA), or a pending request cannot be resumed: nothing is stored; credroam tries again in a day (a pending request starts over).', action: 'Check that ca.url is the CA\'s SCEP or CMP endpoint; if it is, someone may be between the endpoint and the CA. The message says what was wrong.' },
  E_ENROLL_CHALLENGE:          { who: 'user',      meaning: 'The profile\'s challenge file is missing, empty, a link, or readable by others.', action: 'Put the challenge in the file the message names, owner-only (chmod 600), then run `credroam enroll`.' },
  E_ENROLL_PROFILE:            { who: 'admin',     meaning: 'An enrollment profile cannot be filled in for this user: a template names a directory attribute the entry lacks, or the directory store cannot read attributes.', action: 'Fix the profile\'s subject or subjectAltNames in the site policy, or the user\'s entry.' },
  // The directory.
  E_UNREACHABLE:               { who: 'none',      meaning: 'The directory (a server, or the folder), or a policy source, cannot be reached.', action: 'Nothing: the agent retries (event 1003; a policy source at the next refresh, the policy in force staying). If it lasts, `credroam doctor` shows which step fails.' },
  E_CONFLICT:                  { who: 'none',      meaning: 'A compare-and-swap write lost a race (ConflictError): the engine reads and merges again.', action: 'Nothing; the sync handles it.' },
  E_CAS_EXHAUSTED:             { who: 'none',      meaning: 'The directory kept changing during a sync: it gave up after the policy\'s casAttempts.', action: 'Nothing if rare: the next sync tries again. Often: see event 1002.' },
  E_DIRECTORY:                 { who: 'admin',     meaning: 'The folder directory\'s file or folder for the user is damaged, or a link: nothing was read or written.', action: 'Restore it from a backup, or move it aside; the message names it.' },
  E_NO_ENTRY:                  { who: 'admin',     meaning: 'The user\'s entry is not in the directory, or the search found more than one.', action: 'Check userDn, or base and filter, in the ldap settings.' },
  E_BIND:                      { who: 'admin',     meaning: 'The directory refused the bind (a wrong DN or password, or a SASL failure).', action: 'Check the bind settings (docs/admin/ldap.md); `credroam doctor` tests the bind.' },
  E_BIND_UNTRUSTED:            { who: 'admin',     meaning: 'A simple bind with the roaming password was refused: the site policy does not trust the directory with it.', action: 'Bind with gssapi, external or a service account, or set directory.trustWithPassword in the policy (docs/admin/ldap.md).' },
  E_KERBEROS:                  { who: 'user',      meaning: 'Kerberos could not authenticate to the directory (no ticket, an unknown service, or the addon not built).', action: 'Get a ticket (`kinit`); the message says what else is missing (docs/admin/ldap.md).' },
  E_STARTTLS:                  { who: 'admin',     meaning: 'The server refused StartTLS; credroam never binds without TLS.', action: 'Use ldaps://, or enable TLS on the server.' },
  E_TLS_UNTRUSTED:             { who: 'admin',     meaning: 'The server\'s certificate (the directory\'s, or an HTTPS policy source\'s) is not trusted.', action: 'Set caFile in the ldap (or https policy source) settings to the CA that issued it.' },
  E_TLS_HOSTNAME:              { who: 'admin',     meaning: 'The server\'s certificate (the directory\'s, or an HTTPS policy source\'s) does not name the host in the URL.', action: 'Use the name the certificate carries in the URL (or tlsServerName, serverName).' },
  E_TLS_REQUIRED:              { who: 'admin',     meaning: 'The directory requires a stronger (TLS) connection than the one made.', action: 'Use ldaps:// or StartTLS with a certificate the server accepts.' },
  E_SCHEMA:                    { who: 'admin',     meaning: 'The directory does not know the credroam attributes, or the user\'s entry cannot hold them.', action: 'Load the credroam schema and give the entry the credroamUser object class (docs/admin/ldap.md).' },
  E_ACCESS:                    { who: 'admin',     meaning: 'The bound identity may not write the credroam attributes.', action: 'Grant it in the directory\'s ACL (docs/admin/ldap.md).' },
  E_CONSTRAINT:                { who: 'admin',     meaning: 'The directory refused a value (a constraint violation: a size limit, a syntax).', action: 'Check the attribute\'s limits on the server; the message carries the server\'s words.' },
  E_TOO_LARGE:                 { who: 'admin',     meaning: 'The values one write must remove exceed the request size limit (maxRequestBytes), or the directory sent more than 256 MiB for one operation (cut off).', action: 'Raise maxRequestBytes in the ldap settings (and the server\'s own limit); for 256 MiB sent, find who filled the user\'s entry, or what answers for the server.' },
  E_LDAP:                      { who: 'admin',     meaning: 'Any other LDAP error; the message carries the server\'s result code.', action: 'Look up the result code in the server\'s documentation.' },
  // Policy sources: where the signed policy bundle is fetched from (the directory, the folder, HTTPS).
  E_POLICY_TOO_LARGE:          { who: 'admin',     meaning: 'A policy source holds a bundle larger than 256 KiB (POLICY_BUNDLE_MAX_BYTES): refused, never truncated; the policy in force stays.', action: 'Publish the signed bundle itself (DER, no padding); a bundle that large is not one credroam signs. If it is, find who wrote it there.' },
  E_POLICY_AMBIGUOUS:          { who: 'admin',     meaning: 'A policy source holds more than one bundle where it keeps one (two values of the policy attribute): none is picked; the policy in force stays.', action: 'Leave one value (`ldapmodify` replace); the message names the entry and attribute.' },
  E_POLICY_SOURCE:             { who: 'admin',     meaning: 'A policy source cannot hand over its bundle as it holds it (a link or not a regular file, in the folder or the file source; an HTTP status other than 200 or 404, a redirect): nothing was read; the policy in force stays.', action: 'Fix what the message names (the file, the web server\'s answer, the source\'s settings).' },
  // Plugins.
  E_NO_CONTRIBUTION:           { who: 'admin',     meaning: 'No plugin contributes the store, protector or trigger the agent manifest selects.', action: 'Fix `use` in the manifest, or add the plugin that contributes it; the message lists the known ones.' },
  E_PLUGIN_FAILED:             { who: 'admin',     meaning: 'A plugin this needs failed, or is not active.', action: '`credroam plugins list` shows why it failed.' },
  E_PLUGIN_FILES:              { who: 'admin',     meaning: 'A plugin package cannot be hashed for the allow-list: no readable package.json, a link among its files, files outside the package, or too many files.', action: 'Install the plugin as a plain folder of its own files (npm pack, then unpack), owned by root.' },
  E_REQUIRED_PLUGIN:           { who: 'admin',     meaning: 'A required plugin failed: the agent does not run without it.', action: 'See the plugin\'s failure event (2003–2013) and `credroam plugins list`.' },
  E_TIMEOUT:                   { who: 'developer', meaning: 'A plugin\'s activate or deactivate did not finish in time.', action: 'Report it to the plugin\'s author; a slow machine may need the plugin marked optional meanwhile.' },
  E_CONTRIBUTION_NOT_PROVIDED: { who: 'developer', meaning: 'A plugin declared a contribution in its manifest but did not provide it when activated.', action: 'Report it to the plugin\'s author.' },
  E_UNDECLARED_CONTRIBUTION:   { who: 'developer', meaning: 'A plugin provided a contribution its manifest does not declare.', action: 'Report it to the plugin\'s author.' },
  E_NOT_A_DEPENDENCY:          { who: 'developer', meaning: 'A plugin asked for the API of a plugin its manifest does not list in dependencies.', action: 'Report it to the plugin\'s author.' },
  E_HOST_DISPOSED:             { who: 'developer', meaning: 'A plugin was to be activated after the plugin host shut down.', action: 'Report it: a bug in credroam.' },
  E_PLUGIN:                    { who: 'admin',     meaning: 'A third-party plugin\'s own error (PluginError): details.plugin names the plugin, details.pluginCode its own code.', action: 'See the documentation of the plugin named.' },
  E_PLUGIN_CRASHED:            { who: 'developer', meaning: 'An isolated plugin\'s process exited or stopped answering while the agent used it (the host restarts it, up to three times).', action: 'Report it to the plugin\'s author; `credroam plugins list` shows whether the host gave up on it.' },
  E_PLUGIN_SANDBOX:            { who: 'admin',     meaning: 'An isolated plugin cannot be started as its grants say: this machine cannot cut its network off (no network namespace), or its process cannot start. It is refused, never run with more than it was granted.', action: 'Allow user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone), grant the plugin `network`, or let the site keep a signed plugin in process (docs/plugins/isolation.md).' },
  // The agent.
  E_AGENT:                     { who: 'user',      meaning: 'The running agent did not answer, stopped answering, or answered something unreadable.', action: 'See the agent\'s log (journal, or HOME/agent.log); start a new agent, which takes the socket over (`credroam logon --start-agent`), or give the roaming password to run the command in its own process.' },
  E_AGENT_RUNNING:             { who: 'none',      meaning: 'An agent already runs for this home.', action: 'Nothing: it serves this session.' },
  E_KEYS_NEEDED:               { who: 'user',      meaning: 'This needs the keys: no agent holds them and no roaming password was given.', action: 'Give the roaming password (--password-stdin, --password-file), or log on so that the agent holds the keys.' },
  E_TOO_LARGE_FOR_AGENT:       { who: 'user',      meaning: 'The request is too large to hand to the running agent.', action: 'Give the roaming password so that the command does the work itself.' },
  E_NO_AGENT:                  { who: 'user',      meaning: 'No agent runs for this home.', action: 'Start one: `credroam logon --start-agent`, or `systemctl --user start credroam-agent`.' },
  E_INTERNAL:                  { who: 'developer', meaning: 'An unexpected error (a bug): the message says where it happened.', action: 'Report it, with the message.' },
} as const satisfies Record<`E_${string}`, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** True for a code in the table above. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
