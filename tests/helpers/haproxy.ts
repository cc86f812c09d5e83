import { fileURLToPath } from "node:url";
import { childEnv } from "./process.ts";

/**
 * HAProxy for tests: the repository's own deploy/haproxy.cfg, started in the foreground on a free
 * loopback port in front of a given HTTPS backend, with its settings from the environment as
 * README shows, and stopped on dispose.
 */

/** The configuration README documents. */
export const HAPROXY_CONFIG: string = fileURLToPath(
  new URL("../../deploy/haproxy.cfg", import.meta.url),
);

const HAPROXY_BIN = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"].find(
  (path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
);

/** Why HAProxy tests cannot run here, or undefined when they can. */
export const HAPROXY_MISSING: string | undefined = HAPROXY_BIN
  ? undefined
  : "HAProxy is not installed (apt-get install haproxy)";

if (HAPROXY_MISSING && Deno.env.get("REQUIRE_HAPROXY")) {
  throw new Error(`${HAPROXY_MISSING}, but REQUIRE_HAPROXY is set`);
}

/** A running HAProxy. */
export interface RunningProxy extends AsyncDisposable {
  /** `https://localhost:<port>`. */
  url: string;
  port: number;
  /** Its log lines (stderr) so far. */
  logs: string[];
}

/** What the proxy fronts, and PROXY_* settings that replace the file's defaults. */
export interface ProxyOptions {
  /** Port of the HTTPS backend on 127.0.0.1. */
  backendPort: number;
  /** The backend's certificate (or its CA), and the name in it. */
  backendCaPem: string;
  backendName: string;
  /** Certificate and key the proxy presents to clients. */
  certPem: string;
  keyPem: string;
  /** PROXY_* variables, for example `{ PROXY_HEADER_TIMEOUT: "2s" }`. */
  env?: Record<string, string>;
}

/** Starts HAProxy with deploy/haproxy.cfg and waits until it accepts connections. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  if (!HAPROXY_BIN) throw new Error(HAPROXY_MISSING);
  const dir = await Deno.makeTempDir({ prefix: "auth-api-haproxy-" });
  await Deno.writeTextFile(`${dir}/front.pem`, `${options.certPem}\n${options.keyPem}`, {
    mode: 0o600,
  });
  await Deno.writeTextFile(`${dir}/backend-ca.pem`, options.backendCaPem);
  const port = freePort();
  const child = new Deno.Command(HAPROXY_BIN, {
    args: ["-db", "-f", HAPROXY_CONFIG],
    env: childEnv({
      PROXY_BIND: `127.0.0.1:${port}`,
      PROXY_TLS_PEM: `${dir}/front.pem`,
      PROXY_BACKEND: `127.0.0.1:${options.backendPort}`,
      PROXY_BACKEND_CA: `${dir}/backend-ca.pem`,
      PROXY_BACKEND_NAME: options.backendName,
      ...options.env,
    }),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const collecting = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      logs.push(...text.split("\n").filter(Boolean));
    }
  }));
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5000);
    await status;
    clearTimeout(timer);
    await collecting;
    await Deno.remove(dir, { recursive: true });
  };
  try {
    for (const deadline = Date.now() + 15_000;;) {
      if (exited) throw new Error(`HAProxy exited at start: ${logs.join(" | ")}`);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => undefined);
      if (conn) {
        conn.close();
        break;
      }
      if (Date.now() > deadline) throw new Error(`HAProxy did not listen: ${logs.join(" | ")}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `https://localhost:${port}`, port, logs, [Symbol.asyncDispose]: stop };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
