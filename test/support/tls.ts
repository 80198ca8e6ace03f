/**
 * Throwaway certificates for a test's own TLS server: a CA made at test time with openssl, and a
 * server certificate it signs for 127.0.0.1 and localhost, as PEM files and as a PKCS#12 keystore
 * (what a JVM server such as Kafka reads). Nothing here is trusted outside the test's directory.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  /** The CA certificate (PEM): what clients check the server with. */
  ca: string;
  /** The server's certificate and key (PEM). */
  cert: string;
  key: string;
  /** The server's certificate, key and CA chain in a PKCS#12 keystore with `password`. */
  keystore: string;
  password: string;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

export function makeCertificates(dir: string): TestCertificates {
  const f = (name: string) => join(dir, name);
  const password = 'test-keystore';
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=seqae test CA',
    ].concat(['-keyout', f('ca.key'), '-out', f('ca.pem')]),
  );
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ]);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f('server.ext'),
      '-out',
      f('server.pem'),
    ]),
  );
  openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      f('server.pem'),
      '-inkey',
      f('server.key'),
      '-certfile',
      f('ca.pem'),
    ].concat(['-name', 'server', '-passout', `pass:${password}`, '-out', f('server.p12')]),
  );
  return {
    ca: f('ca.pem'),
    cert: f('server.pem'),
    key: f('server.key'),
    keystore: f('server.p12'),
    password,
  };
}
