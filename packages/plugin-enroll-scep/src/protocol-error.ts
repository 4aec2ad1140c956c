import { CredroamError, type ErrorDetails } from '@credroam/core/api';

/**
 * A SCEP server's reply credroam cannot accept: not the structure RFC 8894 specifies, not signed
 * by the pinned CA (or its RA), not an answer to this request, or larger than the bound
 * (`E_ENROLL_PROTOCOL`; `E_ENROLL_REFUSED` is the CA saying no, which this is not).
 */
export const protocolError = (message: string, details: ErrorDetails = {}): CredroamError =>
  new CredroamError('E_ENROLL_PROTOCOL', message, details);
