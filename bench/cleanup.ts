// Everything the bench starts (processes, nginx, temp directories, databases) is registered here
// until released, so a normal exit, a failure and Ctrl-C all stop it.

const live = new Set<() => Promise<void>>();

/**
 * Registers `release` and returns `value` made disposable: disposing runs `release` once and
 * unregisters it. Use with `await using`.
 */
export function track<T extends object>(
  value: T,
  release: () => Promise<void>,
): T & AsyncDisposable {
  let released: Promise<void> | undefined;
  const once = () => {
    live.delete(once);
    return released ??= release();
  };
  live.add(once);
  return Object.assign(value, { [Symbol.asyncDispose]: once });
}

/** Releases everything still registered (for signal handlers and the final safety net). */
export async function releaseAll(): Promise<void> {
  await Promise.allSettled([...live].map((release) => release()));
}
