/**
 * @module
 * Starting a listener, and what its failure says: one line naming the setting at fault (`PORT`,
 * `HTTP_PORT`, `METRICS_PORT` or `HOST`) instead of the runtime's error.
 */

/** The server could not bind or start TLS. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ListenError";
  }
}

/** Runs `start` (a `Deno.serve`), turning its failure into a {@linkcode ListenError}. */
export function listen<T>(where: ListenTarget, start: () => T): T {
  try {
    return start();
  } catch (error) {
    throw listenError(error, where);
  }
}

/** The listener that failed: its port setting, and the address and port it was given. */
export interface ListenTarget {
  setting: "PORT" | "HTTP_PORT" | "METRICS_PORT";
  host: string;
  port: number;
}

/**
 * Turns an error of `Deno.serve` into one line naming the setting at fault: `PORT` or
 * `HTTP_PORT` for the port, `HOST` for the address.
 */
export function listenError(error: unknown, { setting, host, port }: ListenTarget): ListenError {
  const reason = error instanceof Error ? error.message : String(error);
  const change = setting === "PORT" ? "--port or PORT" : setting;
  const chooseHost =
    'set HOST (or --host) to an address of this machine, "localhost", or "0.0.0.0" for all';
  if (error instanceof Deno.errors.AddrInUse) {
    return new ListenError(
      `${setting} ${port} is already in use on "${host}"; choose another port with ${change}`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ListenError(
      `${setting} ${port} needs privileges this process lacks (${reason}); choose a port from 1024 up with ${change}`,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new ListenError(`HOST "${host}" is not an address of this machine; ${chooseHost}`);
  }
  if (error instanceof URIError || /lookup address/i.test(reason)) {
    return new ListenError(`HOST "${host}" cannot be resolved (${reason}); ${chooseHost}`);
  }
  const listener = { PORT: "HTTPS", HTTP_PORT: "plain-HTTP redirect", METRICS_PORT: "metrics" }[
    setting
  ];
  return new ListenError(
    `Cannot start the ${listener} listener (HOST "${host}", ${setting} ${port}): ${reason}`,
  );
}
