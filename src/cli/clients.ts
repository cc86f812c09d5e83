/**
 * @module
 * `clients add|list|remove|rotate-secret`: the OAuth clients registered in the store, from the
 * command line. A confidential client's secret is printed once and never stored.
 */
import { parseArgs } from "node:util";
import {
  type ClientRegistration,
  newClientRecord,
  newClientSecret,
  registrationProblem,
} from "../auth/clients/registration.ts";
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { withOpenIdScopes } from "../auth/scopes.ts";
import type { Config } from "../config.ts";
import type { ClientRecord, Store } from "../store/store.ts";
import { InputError } from "./secret.ts";

const USAGE = "Usage: clients add ID [--redirect-uri URI]... [--post-logout-redirect-uri URI]... " +
  "[--public] [--first-party] [--scope SCOPES] [--grant TYPE]... [--name NAME] | clients list | " +
  "clients remove ID | clients rotate-secret ID";

/**
 * `clients add|list|remove|rotate-secret`: manages registered clients; every change goes to the
 * audit trail.
 */
export async function clientsCommand(
  args: string[],
  deps: { store: Store; config: Config; events?: SecurityEvents },
): Promise<void> {
  const { store, config, events = UNRECORDED } = deps;
  const [action, ...rest] = args;
  if (action === "add") return await add(rest, { store, config, events });
  if (action === "list" && rest.length === 0) {
    for (const client of await store.listClients()) console.log(describe(client));
    return;
  }
  const [clientId, ...extra] = rest;
  if (clientId === undefined || extra.length > 0) throw new InputError(USAGE);
  if (action === "remove") {
    if (!await store.removeClient(clientId)) throw unknown(clientId);
    events.record({ event: "client_removed", client: clientId });
    console.log(`Removed client "${clientId}"`);
    return;
  }
  if (action === "rotate-secret") {
    const client = await store.getClient(clientId);
    if (!client) throw unknown(clientId);
    if (client.secretHash === null) {
      throw new InputError(`Client "${clientId}" is public: it has no secret`);
    }
    const { secret, secretHash } = await newClientSecret();
    if (!await store.setClientSecretHash(clientId, secretHash)) throw unknown(clientId);
    events.record({ event: "client_secret_rotated", client: clientId });
    console.log(`New secret of "${clientId}"; the old one no longer works`);
    console.log(`client_secret: ${secret}`);
    return;
  }
  throw new InputError(USAGE);
}

async function add(
  args: string[],
  { store, config, events }: { store: Store; config: Config; events: SecurityEvents },
): Promise<void> {
  const registration = readRegistration(args);
  const supportedScopes = withOpenIdScopes(config.scopes).supported;
  const problem = registrationProblem(registration, {
    supportedScopes,
    reservedIds: [config.defaultClientId, ...Object.keys(config.oauthClients)],
  });
  if (problem) throw new InputError(problem);
  const { record, secret } = await newClientRecord(registration, supportedScopes);
  await store.addClient(record);
  events.record({
    event: "client_registered",
    client: record.clientId,
    reason: secret === undefined ? "public" : "confidential",
  });
  console.log(
    `Added ${secret === undefined ? "public" : "confidential"} client "${record.clientId}"`,
  );
  console.log(describe(record));
  if (secret !== undefined) {
    console.log("The secret is shown only now and stored only as a hash; keep it safe:");
    console.log(`client_secret: ${secret}`);
  }
}

function readRegistration(args: string[]): ClientRegistration {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        "redirect-uri": { type: "string", multiple: true, default: [] },
        "post-logout-redirect-uri": { type: "string", multiple: true, default: [] },
        public: { type: "boolean", default: false },
        "first-party": { type: "boolean", default: false },
        scope: { type: "string" },
        grant: { type: "string", multiple: true },
        name: { type: "string" },
      },
    });
  } catch (error) {
    throw new InputError(`${(error as Error).message}; ${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new InputError(USAGE);
  return {
    clientId: positionals[0],
    redirectUris: values["redirect-uri"],
    postLogoutRedirectUris: values["post-logout-redirect-uri"],
    public: values.public,
    firstParty: values["first-party"],
    ...(values.scope !== undefined && { scope: values.scope }),
    ...(values.grant !== undefined && {
      grantTypes: values.grant.flatMap((grant) => grant.split(/[\s,]+/)).filter(Boolean),
    }),
    ...(values.name !== undefined && { name: values.name }),
  };
}

function describe(client: ClientRecord): string {
  return [
    client.clientId,
    client.secretHash === null ? "public" : "confidential",
    client.firstParty ? "first-party" : "third-party",
    `grants=${client.grantTypes.join(",")}`,
    `scope="${client.scope}"`,
    ...client.redirectUris.map((uri) => `redirect_uri=${uri}`),
    ...client.postLogoutRedirectUris.map((uri) => `post_logout_redirect_uri=${uri}`),
  ].join("  ");
}

function unknown(clientId: string): InputError {
  return new InputError(`Client "${clientId}" does not exist`);
}
