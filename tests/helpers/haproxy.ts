/**
 * HAProxy for tests: the configuration deployers copy, `src/deploy/haproxy.cfg` itself, started
 * in the foreground on a free loopback port in front of a given HTTPS backend, with its settings
 * from the environment as README shows, and stopped on dispose.
 *
 * @module
 */
import { type Prerequisite, prerequisite } from "./prerequisites.ts";
import { childEnv, freePort } from "./process.ts";
import { testCertificate } from "./tls.ts";

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

/** Where the HAProxy configuration deployers copy lives. */
export const HAPROXY_CONFIG: URL = new URL("../../src/deploy/haproxy.cfg", import.meta.url);

/** The HAProxy configuration deployers copy, `src/deploy/haproxy.cfg`. */
export function haproxyConfig(): Promise<string> {
  return Deno.readTextFile(HAPROXY_CONFIG);
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
  /**
   * Ports of further instances on 127.0.0.1: the file's "server" line is copied for each, as
   * its comment tells deployers, named `api1` (`backendPort`), `api2`, ….
   */
  moreBackendPorts?: readonly number[];
  /** The backend's certificate (or its CA), and the name in it. */
  backendCaPem: string;
  backendName: string;
  /** Certificate and key the proxy presents to clients. */
  certPem: string;
  keyPem: string;
  /** PROXY_* variables, for example `{ PROXY_HEADER_TIMEOUT: "2s" }`. */
  env?: Record<string, string>;
}

/**
 * Writes the configuration and the files `options` name into `dir`, and returns the environment
 * that makes HAProxy listen on `port` with them.
 */
async function prepareProxy(
  dir: string,
  port: number,
  options: ProxyOptions,
): Promise<Record<string, string>> {
  const config = await haproxyConfig();
  await Deno.writeTextFile(
    `${dir}/haproxy.cfg`,
    options.moreBackendPorts?.length
      ? withServerPerInstance(config, [options.backendPort, ...options.moreBackendPorts])
      : config,
  );
  await Deno.writeTextFile(`${dir}/front.pem`, `${options.certPem}\n${options.keyPem}`, {
    mode: 0o600,
  });
  await Deno.writeTextFile(`${dir}/backend-ca.pem`, options.backendCaPem);
  return childEnv({
    PROXY_BIND: `127.0.0.1:${port}`,
    PROXY_TLS_PEM: `${dir}/front.pem`,
    PROXY_BACKEND: `127.0.0.1:${options.backendPort}`,
    PROXY_BACKEND_CA: `${dir}/backend-ca.pem`,
    PROXY_BACKEND_NAME: options.backendName,
    ...options.env,
  });
}

/**
 * The configuration with its one "server" line copied for each port, as a deployer copies it for
 * each instance: each copy with its own name and address.
 */
function withServerPerInstance(config: string, ports: readonly number[]): string {
  const line = config.split("\n").find((text) => /^\s*server api /.test(text));
  if (!line) throw new Error('The HAProxy configuration has no "server api" line');
  const copies = ports.map((port, i) =>
    line.replace("server api ", `server api${i + 1} `)
      .replace('"${PROXY_BACKEND}"', `"127.0.0.1:${port}"`)
  );
  return config.replace(line, copies.join("\n"));
}

/** Runs `haproxy -c` on the configuration with `options`: its exit code and output. */
export async function checkProxyConfig(
  options: ProxyOptions,
): Promise<{ code: number; output: string }> {
  if (!HAPROXY_BIN) throw new Error("HAProxy is not installed (apt-get install haproxy)");
  const dir = await Deno.makeTempDir({ prefix: "auth-api-haproxy-" });
  try {
    const env = await prepareProxy(dir, freePort(), options);
    const { code, stdout, stderr } = await new Deno.Command(HAPROXY_BIN, {
      args: ["-c", "-f", `${dir}/haproxy.cfg`],
      env,
      clearEnv: true,
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * HAProxy in front of a server of the tests (its URL or port), which serves the tests'
 * certificate: HAProxy trusts it for the backend and shows it to clients too.
 */
export async function startProxyFor(
  server: { url: string } | number,
  env?: Record<string, string>,
): Promise<RunningProxy> {
  const { certPem, keyPem } = await testCertificate();
  return await startProxy({
    backendPort: typeof server === "number" ? server : Number(new URL(server.url).port),
    backendCaPem: certPem,
    backendName: "localhost",
    certPem,
    keyPem,
    env,
  });
}

/** Starts HAProxy with `src/deploy/haproxy.cfg` and waits until it accepts connections. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  if (!HAPROXY_BIN) throw new Error("HAProxy is not installed (apt-get install haproxy)");
  const dir = await Deno.makeTempDir({ prefix: "auth-api-haproxy-" });
  const port = freePort();
  const child = new Deno.Command(HAPROXY_BIN, {
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
    env: await prepareProxy(dir, port, options),
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
