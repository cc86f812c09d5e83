/**
 * @module
 * PostgreSQL over TLS: how `sslmode` and the root certificate are read, and, against a real
 * cluster with ssl=on that accepts only TLS on loopback, that verify-full connects with the
 * right root and refuses a wrong root or a host name the certificate does not name.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { StoreConfigError } from "../src/store/errors.ts";
import { openStore, postgresConnection } from "../src/store/open.ts";
import { POSTGRESQL_SERVER, startOwnCluster } from "./helpers/postgres.ts";
import { OPENSSL, testNeeding } from "./helpers/prerequisites.ts";
import { outputOf, runCli, ServerProcess } from "./helpers/process.ts";
import { login } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";

Deno.test("postgresConnection reads sslmode and sslrootcert and strips them from the URL", async () => {
  await using temp = await tempDir();
  const dir = temp.path;
  await Deno.writeTextFile(join(dir, "ca.pem"), "CA FROM FILE");
  await Deno.writeTextFile(join(dir, "other.pem"), "CA FROM URL");
  const base = "postgres://auth:p%40ss@db.internal:5432/auth";

  assert.deepEqual(await postgresConnection(base), {
    url: base,
    tls: false,
    host: "db.internal",
  });
  for (const mode of ["disable", "allow", "prefer", "require"] as const) {
    const { url, tls } = await postgresConnection(`${base}?sslmode=${mode}&application_name=x`);
    assert.equal(url, `${base}?application_name=x`);
    assert.equal(tls, mode === "disable" ? false : mode);
  }
  const full = await postgresConnection(`${base}?sslmode=verify-full`, join(dir, "ca.pem"));
  assert.deepEqual(full, {
    url: base,
    host: "db.internal",
    tls: {
      rejectUnauthorized: true,
      host: "db.internal",
      servername: "db.internal",
      ca: "CA FROM FILE",
    },
  });
  const fromUrl = await postgresConnection(
    `${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(join(dir, "other.pem"))}`,
    join(dir, "ca.pem"),
  );
  assert.equal(fromUrl.url, base);
  assert.deepEqual(fromUrl.tls, {
    rejectUnauthorized: true,
    host: "db.internal",
    servername: "db.internal",
    ca: "CA FROM URL",
  });
  const system = await postgresConnection(`${base}?sslmode=verify-full&sslrootcert=system`);
  assert.deepEqual(system.tls, {
    rejectUnauthorized: true,
    host: "db.internal",
    servername: "db.internal",
  });
  // An IP address is checked against the certificate's IP addresses, with no server name.
  const ip = await postgresConnection("postgres://a@10.1.2.3/db?sslmode=verify-full");
  assert.deepEqual(ip.tls, { rejectUnauthorized: true, host: "10.1.2.3" });
  const v6 = await postgresConnection("postgres://a@[::1]:5432/db?sslmode=verify-full");
  assert.deepEqual(v6.tls, { rejectUnauthorized: true, host: "::1" });
});

Deno.test("postgresConnection refuses what it would not honour, with one line", async () => {
  const base = "postgres://auth@db.internal/auth";
  const cases: [string, string | undefined, RegExp][] = [
    [`${base}?sslmode=verify-ca`, undefined, /sslmode "verify-ca" is not supported/],
    [`${base}?sslmode=bogus`, undefined, /sslmode "bogus" is not supported/],
    [`${base}?sslmode=require`, "ca.pem", /sslmode "require" would not use it/],
    [base, "ca.pem", /sslmode "disable" would not use it/],
    [
      `${base}?sslmode=verify-full`,
      "/no/such/ca.pem",
      /Cannot read the PostgreSQL root certificate "\/no\/such\/ca\.pem"/,
    ],
    ["postgres://db.internal/auth", undefined, /must name the user, host and database/],
    ["postgres://auth@db.internal", undefined, /must name the user, host and database/],
    ["postgres:///auth", undefined, /must name the user, host and database/],
  ];
  for (const [url, rootCert, pattern] of cases) {
    await assert.rejects(postgresConnection(url, rootCert), (error) => {
      assert.ok(error instanceof StoreConfigError, String(error));
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("\n"));
      return true;
    }, url);
  }
});

/** A CA, a second CA, and a server certificate from the first for `localhost` only. */
async function makeCertificates(dir: string): Promise<{ ca: string; otherCa: string }> {
  const openssl = (...args: string[]) => outputOf("openssl", args, { cwd: dir });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const name of ["ca", "other-ca"]) {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  }
  await openssl(
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(
    join(dir, "server.ext"),
    "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n" +
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  return { ca: join(dir, "ca.pem"), otherCa: join(dir, "other-ca.pem") };
}

testNeeding([POSTGRESQL_SERVER, OPENSSL], {
  name:
    "PostgreSQL over TLS: verify-full works with the right root, refuses a wrong root and a host the certificate does not name",
  async fn(t) {
    await using temp = await tempDir();
    const dir = temp.path;
    const { ca, otherCa } = await makeCertificates(dir);
    await using cluster = await startOwnCluster({
      files: {
        "server.pem": await Deno.readTextFile(join(dir, "server.pem")),
        "server.key": await Deno.readTextFile(join(dir, "server.key")),
        // TLS only: a cleartext connection finds no entry.
        "pg_hba.conf": "hostssl all all 127.0.0.1/32 trust\n",
      },
      settings: {
        ssl: "on",
        ssl_cert_file: "$DIR/server.pem",
        ssl_key_file: "$DIR/server.key",
        hba_file: "$DIR/pg_hba.conf",
      },
    });
    const { port } = new URL(cluster.url);
    const url = (host: string, query: string) =>
      `postgres://postgres@${host}:${port}/postgres?${query}`;

    await t.step("the right root, the name in the certificate: connects", async () => {
      const warnings: string[] = [];
      const store = await openStore(url("localhost", "sslmode=verify-full"), {
        rootCertFile: ca,
        warn: (line) => warnings.push(line),
      });
      try {
        await store.addUser("alice", "$hash");
        assert.deepEqual(await store.listUsers(), ["alice"]);
      } finally {
        await store.close();
      }
      assert.deepEqual(warnings, []);
      // sslrootcert in the URL works the same and never reaches the server.
      const fromUrl = await openStore(
        url("localhost", `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`),
      );
      assert.deepEqual(await fromUrl.listUsers(), ["alice"]);
      await fromUrl.close();
    });

    await t.step("cleartext is refused by this server, so the above was TLS", async () => {
      await assert.rejects(
        openStore(url("localhost", "sslmode=disable")),
        /no pg_hba\.conf entry .*no encryption/,
      );
    });

    await t.step("a wrong root: refused, saying why", async () => {
      await assert.rejects(
        openStore(url("localhost", "sslmode=verify-full"), { rootCertFile: otherCa }),
        (error) => {
          assert.ok(error instanceof StoreConfigError);
          assert.match(
            error.message,
            /^Cannot open the DATABASE_URL database at "localhost:\d+": the server's certificate was refused: .+ \([A-Z_]+\); check PGSSLROOTCERT/,
          );
          return true;
        },
      );
    });

    await t.step("no root given: the system's roots do not know this CA, refused", async () => {
      await assert.rejects(
        openStore(url("localhost", "sslmode=verify-full")),
        /the server's certificate was refused/,
      );
    });

    await t.step("a host the certificate does not name (127.0.0.1): refused", async () => {
      await assert.rejects(
        openStore(url("127.0.0.1", "sslmode=verify-full"), { rootCertFile: ca }),
        (error) => {
          assert.ok(error instanceof StoreConfigError);
          assert.match(error.message, /certificate was refused: .*127\.0\.0\.1.*ALTNAME/);
          return true;
        },
      );
    });

    await t.step(
      "sslmode=require encrypts without checking: it connects to a server it cannot verify",
      async () => {
        const store = await openStore(url("127.0.0.1", "sslmode=require"));
        assert.deepEqual(await store.listUsers(), ["alice"]);
        await store.close();
      },
    );

    await t.step(
      "serve with the serve task's permissions and PGSSLROOTCERT in certs/",
      async () => {
        const work = join(dir, "work");
        const { certPem } = await testCertificate();
        await writeTlsFiles(work);
        await Deno.copyFile(ca, join(work, "certs/db-ca.pem"));
        const env = {
          DATABASE_URL: url("localhost", "sslmode=verify-full"),
          PGSSLROOTCERT: "certs/db-ca.pem",
        };
        const added = await runCli(["user", "add", "bob"], {
          cwd: work,
          env,
          stdin: "bob's password 1\n",
        });
        assert.equal(added.code, 0, added.stderr);
        const checked = await runCli(["serve", "--check"], { cwd: work, env });
        assert.equal(checked.code, 0, checked.stderr);
        assert.match(checked.stdout, /Store\s+PostgreSQL at localhost:\d+ \(answers; 2 user/);
        await using server = new ServerProcess(["serve", "--port", "0"], {
          cwd: work,
          env: { ...env, LOG_LEVEL: "info" },
        });
        using client = Deno.createHttpClient({ caCerts: [certPem] });
        const endpoint = { url: await server.listening(), client };
        assert.equal((await login(endpoint, "bob", "bob's password 1")).res.status, 200);
        const refused = await runCli(["user", "list"], {
          cwd: work,
          env: {
            ...env,
            PGSSLROOTCERT: "",
            DATABASE_URL: url("127.0.0.1", "sslmode=verify-full&sslrootcert=certs/db-ca.pem"),
          },
        });
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /certificate was refused/);
      },
    );
  },
});

testNeeding([POSTGRESQL_SERVER], {
  name:
    "sslmode=verify-full or require against a PostgreSQL without TLS says that the server does not offer TLS",
  async fn() {
    // A cluster of its own, whose ssl is off whatever TEST_DATABASE_URL's server offers.
    await using cluster = await startOwnCluster();
    for (const mode of ["verify-full", "require"]) {
      const url = new URL(cluster.url);
      url.searchParams.set("sslmode", mode);
      await assert.rejects(openStore(url.href), (error) => {
        assert.ok(error instanceof StoreConfigError, String(error));
        assert.equal(
          error.message,
          `Cannot open the DATABASE_URL database at "${url.host}": the server does not offer TLS, which sslmode=${mode} needs; turn ssl on in its postgresql.conf (with a certificate)`,
        );
        return true;
      }, mode);
    }
    // Nobody listening is still told apart.
    await assert.rejects(
      openStore("postgres://auth@127.0.0.1:1/auth?sslmode=verify-full"),
      /"127\.0\.0\.1:1": the server cannot be reached/,
    );
  },
});
