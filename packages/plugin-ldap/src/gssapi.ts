import { CredroamError } from '@credroam/core/api';
import { printable } from '@credroam/core/kit';
import type * as Kerberos from 'kerberos';
import { SaslBindExchange, type SaslBindResult } from './sasl-bind.js';

/** RFC 4752 §3.3 security-layer bit: none. TLS already protects the connection. */
const NO_SECURITY_LAYER = 0x01;

/**
 * SASL GSSAPI (RFC 4752) with the user's Kerberos ticket, as AD and FreeIPA sites log users on:
 * the directory learns who the user is from a service ticket, and no password crosses the wire.
 *
 * 1. Token exchange until the Kerberos context is complete (with mutual authentication).
 * 2. The server's wrapped 4-byte offer (security layers, maximum message size) is unwrapped.
 * 3. The answer, wrapped: "no security layer" (TLS protects the channel), maximum size 0, and no
 *    authorization identity (the server maps the authenticated principal to the user's entry).
 *
 * `service` is the GSS host-based service name, `ldap@<host>`. The `kerberos` package (a native
 * addon) is loaded here, on the first GSSAPI bind only: sites that do not use it need nothing native.
 */
export async function bindGssapi(exchange: SaslBindExchange, service: string): Promise<void> {
  const k = await kerberos();
  let client: Kerberos.KerberosClient;
  try {
    client = await k.initializeClient(service, {
      mechOID: k.GSS_MECH_OID_KRB5,
      gssFlag: k.GSS_C_MUTUAL_FLAG | k.GSS_C_SEQUENCE_FLAG,
    });
  } catch (error) {
    throw kerberosError(error, service);
  }
  let challenge = '';
  let offer: Buffer | undefined;
  for (let round = 0; round < 10 && offer === undefined; round++) {
    let token: string | null;
    try {
      token = await client.step(challenge);
    } catch (error) {
      throw kerberosError(error, service);
    }
    const reply = await exchange.step('GSSAPI', Buffer.from(token ?? '', 'base64'));
    if (reply.resultCode === SaslBindExchange.SUCCESS) {
      // Success comes only after step 3 (RFC 4752): before it, the server has not shown that it
      // holds the service's key, and whoever answers for it (a man in the middle the CA trusts) could.
      throw new CredroamError(
        'E_BIND',
        `the directory said the SASL GSSAPI bind succeeded before it authenticated itself as ${service} ` +
          '(no mutual authentication, no security-layer offer): refused',
        { service },
      );
    }
    if (reply.resultCode !== SaslBindExchange.IN_PROGRESS) throw refused(reply, service);
    if (client.contextComplete) offer = reply.serverSaslCreds;
    else challenge = reply.serverSaslCreds.toString('base64');
  }
  if (offer === undefined)
    throw new CredroamError('E_BIND', 'the SASL GSSAPI exchange did not end', { service });
  let offered: Buffer;
  try {
    offered = Buffer.from(await client.unwrap(offer.toString('base64')), 'base64');
  } catch (error) {
    throw kerberosError(error, service);
  }
  if (offered.length !== 4) {
    throw new CredroamError('E_BIND', 'the directory sent a malformed SASL GSSAPI security-layer offer', {
      service,
    });
  }
  if (!((offered[0] ?? 0) & NO_SECURITY_LAYER)) {
    throw new CredroamError(
      'E_BIND',
      'the directory requires a SASL security layer inside TLS, which credroam does not use: ' +
        'let SASL GSSAPI run without one over TLS (OpenLDAP: no minssf in olcSaslSecProps)',
      { service },
    );
  }
  // The kerberos package puts NO_SECURITY_LAYER into the first byte and keeps the next three
  // (maximum size 0), then appends the authorization identity (none).
  const answer = await client.wrap(Buffer.from([NO_SECURITY_LAYER, 0, 0, 0]).toString('base64'), {
    user: '',
  });
  const done = await exchange.step('GSSAPI', Buffer.from(answer, 'base64'));
  if (done.resultCode !== SaslBindExchange.SUCCESS) throw refused(done, service);
}

/** What credroam uses of the kerberos package. */
interface KerberosApi {
  readonly initializeClient: typeof Kerberos.initializeClient;
  readonly GSS_MECH_OID_KRB5: number;
  readonly GSS_C_MUTUAL_FLAG: number;
  readonly GSS_C_SEQUENCE_FLAG: number;
}

let loaded: Promise<KerberosApi> | undefined;

function kerberos(): Promise<KerberosApi> {
  const loading =
    loaded ??
    import('kerberos').then(
      (m): KerberosApi => m.default,
      (error: unknown) => {
        loaded = undefined;
        throw new CredroamError(
          'E_KERBEROS',
          'bind "gssapi" needs the kerberos package, a native addon that was not built here ' +
            `(${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): install libkrb5-dev, g++, make ` +
            'and Node.js headers, then reinstall (scripts/setup.sh does all of it); see docs/admin/ldap.md',
        );
      },
    );
  loaded = loading;
  return loading;
}

/** What Kerberos itself said, and what the user can do about it. */
function kerberosError(error: unknown, service: string): CredroamError {
  const said = (error as Error).message ?? String(error);
  const todo = /not found in Kerberos database|server not found|unknown server/i.test(said)
    ? `the KDC knows no service principal for ${service}: set kerberosService to the directory's ` +
      '(ldap@<the host name in its keytab>)'
    : /credential|cache|expired|no such file|ticket/i.test(said)
      ? 'get a Kerberos ticket first: run kinit (or log on with Kerberos), then try again'
      : 'check the Kerberos configuration (krb5.conf, the KDC) and that you have a ticket (klist; kinit)';
  return new CredroamError(
    'E_KERBEROS',
    `Kerberos could not authenticate to the directory as ${service}: ${said}; ${todo}`,
    {
      service,
    },
  );
}

function refused(reply: SaslBindResult, service: string): CredroamError {
  const why = reply.diagnosticMessage ? `: ${printable(reply.diagnosticMessage)}` : '';
  if (reply.resultCode === 7) {
    return new CredroamError(
      'E_BIND',
      `the directory does not offer SASL GSSAPI (authMethodNotSupported, 7)${why}; configure Kerberos on the server or use another bind`,
      { service, resultCode: reply.resultCode },
    );
  }
  return new CredroamError(
    'E_BIND',
    `the directory refused the SASL GSSAPI bind (result code ${reply.resultCode})${why}`,
    { service, resultCode: reply.resultCode },
  );
}
