/**
 * @module
 * Compatibility with the Flask original's clients over verified HTTPS: the tutorial's Python
 * `requests` client logs in and prints the greeting (or its failure message for a wrong password),
 * curl with `--cacert` logs in and calls /hello, curl without it refuses the self-signed
 * certificate, and `curl -I` over HTTP/2 and HTTP/1.1 gets the 401 headers without a token.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CURL, python3With, testNeeding } from "./helpers/prerequisites.ts";
import { type CliResult, runProgram } from "./helpers/process.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { user1: "password1" };

/** The tutorial's Python client, with the base URL from argv and certificate verification on. */
const TUTORIAL_CLIENT = `import sys
import requests

# Base URL of the Flask application
base_url = sys.argv[1]
cert = sys.argv[2]

# Sample credentials for authentication
username = 'user1'
password = 'password1'

# Login to obtain JWT token
login_url = f'{base_url}/login'
login_data = {'username': username, 'password': password}
response = requests.post(login_url, json=login_data, verify=cert)
if response.status_code == 200:
    access_token = response.json()['access_token'] #get the JWT token
    headers = {'Authorization': f'Bearer {access_token}'} # use the Token in the headers
    # Call the helloworld API endpoint
    hello_url = f'{base_url}/hello'
    response = requests.get(hello_url, headers=headers, verify=cert)
    if response.status_code == 200:
        print(response.json())
    else:
        print('Failed to call helloworld API:', response.status_code)
else:
    print('Failed to authenticate:', response.status_code)
`;

async function certFile(server: TestServer): Promise<string> {
  const path = join(server.dir, "trusted-cert.pem");
  await Deno.writeTextFile(path, server.certPem);
  return path;
}

/** A python3 with `requests` (Debian's python3-requests, which .ci/run installs). */
const PYTHON = python3With("requests");

/** Runs the tutorial's client against `server`, trusting its certificate, warnings shown. */
async function runTutorialClient(server: TestServer): Promise<CliResult> {
  const script = join(server.dir, "client.py");
  await Deno.writeTextFile(script, TUTORIAL_CLIENT);
  return await runProgram(PYTHON.path, [script, server.url, await certFile(server)], {
    env: { PYTHONWARNINGS: "default" },
  });
}

testNeeding(
  [PYTHON],
  "the tutorial's Python requests client logs in and prints the greeting over verified HTTPS",
  async () => {
    await using server = await startTestServer({ users: USERS });
    const { code, stdout, stderr } = await runTutorialClient(server);
    assert.equal(stderr, "", "no warnings (such as InsecureRequestWarning) on stderr");
    assert.equal(stdout, `{'message': "Hello, user1! You're authenticated."}\n`);
    assert.equal(code, 0);
  },
);

testNeeding(
  [PYTHON],
  "the tutorial's Python client reports Failed to authenticate: 400 for a wrong password",
  async () => {
    await using server = await startTestServer({ users: { user1: "another-password" } });
    const { code, stdout, stderr } = await runTutorialClient(server);
    assert.equal(stderr, "");
    assert.equal(stdout, "Failed to authenticate: 400\n");
    assert.equal(code, 0);
  },
);

testNeeding([CURL], "curl --cacert logs in and calls /hello with the token", async () => {
  await using server = await startTestServer({ users: USERS });
  const cert = await certFile(server);
  const loginResult = await runProgram("curl", [
    "--cacert",
    cert,
    "-sS",
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-d",
    '{"username":"user1","password":"password1"}',
    `${server.url}/login`,
  ]);
  assert.equal(loginResult.stderr, "");
  assert.equal(loginResult.code, 0);
  const { access_token: token, token_type: type } = JSON.parse(loginResult.stdout);
  assert.equal(type, "Bearer");
  assert.equal(token.split(".").length, 3);

  const helloResult = await runProgram("curl", [
    "--cacert",
    cert,
    "-sS",
    "-H",
    `Authorization: Bearer ${token}`,
    `${server.url}/hello`,
  ]);
  assert.equal(helloResult.stderr, "");
  assert.equal(helloResult.code, 0);
  assert.equal(helloResult.stdout, `{"message":"Hello, user1! You're authenticated."}`);
});

testNeeding([CURL], "curl without --cacert refuses the self-signed certificate", async () => {
  await using server = await startTestServer({ users: USERS });
  const { code, stdout } = await runProgram("curl", ["-sS", `${server.url}/hello`]);
  assert.equal(code, 60, "curl exit code 60: peer certificate cannot be authenticated");
  assert.equal(stdout, "");
});

for (const version of ["--http2", "--http1.1"]) {
  testNeeding(
    [CURL],
    `curl ${version} -I /hello without a token gets the 401 headers and no body`,
    async () => {
      await using server = await startTestServer({ users: USERS });
      const { code, stdout, stderr } = await runProgram("curl", [
        "--cacert",
        await certFile(server),
        "-sS",
        version,
        "-I",
        `${server.url}/hello`,
      ]);
      assert.equal(stderr, "");
      assert.equal(code, 0);
      assert.match(stdout, /^HTTP\/(2|1\.1) 401/);
      assert.match(stdout, /^www-authenticate: Bearer realm="/im);
      assert.match(stdout, /^content-type: application\/json; charset=utf-8/im);
    },
  );
}
