// Throwaway TLS certificates for tests, made with openssl at run time (no key is committed): a
// CA, and a server certificate it signs for localhost and 127.0.0.1, in a temporary directory.

import { serviceAvailable } from "./services.ts";

export interface TestCertificates {
  dir: string;
  /** PEM files. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA certificate's PEM text. */
  caPem: string;
  remove(): Promise<void>;
}

/** True when openssl runs (CI=true fails without it, as for the other services). */
export function opensslAvailable(): Promise<boolean> {
  return serviceAvailable("openssl", async () => {
    const { success } = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
      .output();
    return success;
  });
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null" })
    .output();
  if (!success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

/** Makes a CA and a server certificate signed by it, valid for a day. */
export async function makeCertificates(dir?: string): Promise<TestCertificates> {
  dir ??= await Deno.makeTempDir({ prefix: "chat-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=chat test CA",
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "key.pem",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca-key.pem",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  const directory = dir;
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    certFile: `${dir}/cert.pem`,
    keyFile: `${dir}/key.pem`,
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
    remove: () => Deno.remove(directory, { recursive: true }),
  };
}
