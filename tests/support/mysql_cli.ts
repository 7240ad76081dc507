// What the end-to-end tests do to MariaDB from outside the servers: run SQL with the `mysql`
// client (creating and dropping each test's own database), and make names unique per test.

/** Runs `sql` as root on 127.0.0.1 with the mysql client; throws its stderr on failure. */
export async function mysqlExec(sql: string): Promise<void> {
  const result = await new Deno.Command("mysql", {
    args: ["-uroot", "-h127.0.0.1", "-e", sql],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) throw new Error(new TextDecoder().decode(result.stderr));
}

/** 12 random hex digits, for a test's own database name and Redis key prefix. */
export function uniqueHex(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}
