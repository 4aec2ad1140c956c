import { X509Certificate } from 'node:crypto';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Every certificate in PEM texts. Its own module: reading the policy roots needs it, and must not
 * load the CMS library that signing and verifying a bundle use.
 */
export function certificatesOfPem(text: string): X509Certificate[] {
  return (text.match(PEM_CERT) ?? []).map((pem) => new X509Certificate(pem));
}
