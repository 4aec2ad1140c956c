import { ConflictError, CredroamError } from '@credroam/core/api';
import { printable } from '@credroam/core/kit';

const TLS_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Turns what ldapts and Node's TLS throw into one CredroamError per way it goes wrong, each with a
 * message that says what to fix. `where` names the server and the entry, never a secret. What the
 * server said goes in printable (`printable`: no control or bidi character, at most 512 characters).
 */
export function mapLdapError(error: unknown, where: { url: string; dn?: string; attribute?: string }): Error {
  if (error instanceof CredroamError) return error;
  const e = error as { code?: unknown; message?: string; name?: string };
  // The server's diagnostic message is whatever its operator chose: printable, and bounded.
  const message = printable(e.message ?? String(error));
  const at = where.dn ? ` (${where.dn} on ${where.url})` : ` (${where.url})`;
  const ids = {
    url: where.url,
    ...(where.dn ? { dn: where.dn } : {}),
    ...(where.attribute ? { attribute: where.attribute } : {}),
  };
  if (typeof e.code === 'string') {
    if (TLS_UNTRUSTED.has(e.code)) {
      return new CredroamError(
        'E_TLS_UNTRUSTED',
        `the server's certificate is not trusted (${e.code}): check caFile${at}`,
        ids,
      );
    }
    if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new CredroamError(
        'E_TLS_HOSTNAME',
        `the server's certificate does not name this host: ${message}${at}`,
        ids,
      );
    }
    if (UNREACHABLE.has(e.code))
      return new CredroamError('E_UNREACHABLE', `cannot reach the directory: ${e.code}${at}`, ids);
  }
  if (typeof e.code === 'number') {
    switch (e.code) {
      case 16:
        return new ConflictError(`a value to replace is no longer on the entry${at}`, ids);
      case 49:
        return new CredroamError('E_BIND', `the directory refused the bind: wrong DN or password${at}`, ids);
      case 32:
        return new CredroamError('E_NO_ENTRY', `no such entry in the directory${at}`, ids);
      case 17:
        return new CredroamError(
          'E_SCHEMA',
          `the directory does not know the credroam attributes: load the credroam schema${at}`,
          ids,
        );
      case 65:
        return new CredroamError(
          'E_SCHEMA',
          `the entry cannot hold the credroam attributes (object class credroamUser missing?)${at}`,
          ids,
        );
      case 50:
        return new CredroamError(
          'E_ACCESS',
          `no permission to write the credroam attributes: check the directory's ACL${at}`,
          ids,
        );
      case 8:
      case 13:
        return new CredroamError(
          'E_TLS_REQUIRED',
          `the directory requires a stronger (TLS) connection: ${message}${at}`,
          ids,
        );
      case 19:
        return new CredroamError(
          'E_CONSTRAINT',
          `the directory refused a value (constraint violation): ${message}${at}`,
          ids,
        );
      case 20:
        // Only a concurrent writer puts there a value this write meant to add: a lost race.
        return new ConflictError(`a value to add is already on the entry${at}`, ids);
      case 51:
      case 52:
        return new CredroamError(
          'E_UNREACHABLE',
          `the directory is busy or unavailable: ${message}${at}`,
          ids,
        );
    }
    return new CredroamError('E_LDAP', `the directory answered with result code ${e.code}: ${message}${at}`, {
      ...ids,
      resultCode: e.code,
    });
  }
  if (/timeout|timed out|closed|not connected|socket/i.test(message)) {
    return new CredroamError('E_UNREACHABLE', `lost the directory: ${message}${at}`, ids);
  }
  return new CredroamError('E_LDAP', `${message}${at}`, ids);
}
