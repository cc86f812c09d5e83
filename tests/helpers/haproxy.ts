/**
 * HAProxy for tests: the configuration README documents (its `haproxy` code block, read from
 * README.md itself, so the documented text is the tested one), started in the foreground on a
 * free loopback port in front of a given HTTPS backend, with its settings from the environment as
 * README shows, and stopped on dispose.
 *
 * @module
 */
import { type Prerequisite, prerequisite } from "./prerequisites.ts";
import { childEnv, freePort } from "./process.ts";

const HAPROXY_BIN = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"].find(
  (path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
);

/** HAProxy from Debian, for the front-proxy tests. */
export const HAPROXY: Prerequisite = prerequisite(["haproxy"], () => HAPROXY_BIN !== undefined);

/** The HAProxy configuration README documents: its one `haproxy` code block. */
export async function haproxyConfig(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const block = /^```haproxy\n([\s\S]*?)^```$/m.exec(readme);
  if (!block) throw new Error("README.md has no haproxy code block");
  return block[1];
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

/** Starts HAProxy with README's configuration and waits until it accepts connections. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  if (!HAPROXY_BIN) throw new Error("HAProxy is not installed (apt-get install haproxy)");
  const dir = await Deno.makeTempDir({ prefix: "auth-api-haproxy-" });
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, await haproxyConfig());
  await Deno.writeTextFile(`${dir}/front.pem`, `${options.certPem}\n${options.keyPem}`, {
    mode: 0o600,
  });
  await Deno.writeTextFile(`${dir}/backend-ca.pem`, options.backendCaPem);
  const port = freePort();
  const child = new Deno.Command(HAPROXY_BIN, {
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
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
