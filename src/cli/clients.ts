/**
 * @module
 * `clients add|list|remove|rotate-secret`: the OAuth clients registered in the store, from the
 * command line. A confidential client's secret is printed once and never stored.
 */
import {
  type ClientRegistration,
  newClientRecord,
  newClientSecret,
  registrationProblem,
} from "../auth/clients/registration.ts";
import { DEFAULT_GRANT_TYPES, GRANT_TYPES } from "../auth/clients/grants.ts";
import { removeClient } from "../auth/clients/removal.ts";
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { withOpenIdScopes } from "../auth/scopes.ts";
import { type Config, LONGEST_ACCESS_TOKEN_ACCEPTANCE_SECONDS } from "../config.ts";
import type { ClientRecord, ClientStore } from "../store/clients.ts";
import { type CommandSpec, type OptionValues, parseCommandLine } from "../usage.ts";
import { InputError } from "../terminal.ts";

/** The `clients` commands, from which their parser and help are made. */
export const CLIENTS_COMMAND: CommandSpec = {
  name: "clients",
  summary: "Manage the OAuth clients (apps) registered in the store that DATABASE_URL names",
  commands: [
    {
      name: "clients add",
      args: ["ID"],
      summary:
        "Register a client; a confidential one's secret is printed once and stored only as a hash",
      options: [
        {
          name: "redirect-uri",
          value: "URI",
          multiple: true,
          help:
            "Where authorization answers may be sent, matched exactly (authorization_code needs one)",
        },
        {
          name: "post-logout-redirect-uri",
          value: "URI",
          multiple: true,
          help: "Where RP-initiated logout may send the browser back, matched exactly",
        },
        { name: "public", help: "A public client (browser or mobile app), which has no secret" },
        { name: "first-party", help: "Skip the consent page" },
        {
          name: "scope",
          value: "SCOPES",
          help: "Space-separated scopes it may ask for (default: every supported scope)",
        },
        {
          name: "grant",
          value: "TYPE",
          multiple: true,
          help: `Grant type it may use: ${
            GRANT_TYPES.join(", ")
          }; commas separate several (default: ${DEFAULT_GRANT_TYPES.join(", ")})`,
        },
        {
          name: "name",
          value: "NAME",
          help: "Name shown on the consent page (default: the client id)",
        },
        {
          name: "require-par",
          help: "Refuse its authorization requests unless pushed first to /oauth/par (RFC 9126)",
        },
        {
          name: "dpop",
          help:
            "Require a DPoP proof (RFC 9449) with every token request: its tokens are key-bound",
        },
      ],
    },
    { name: "clients list", summary: "List the registered clients and their settings" },
    {
      name: "clients remove",
      args: ["ID"],
      summary:
        "Remove a client and end its tokens, codes and consents on every instance (takes a second or two)",
    },
    {
      name: "clients rotate-secret",
      args: ["ID"],
      summary: "Give a confidential client a new secret, printed once; the old one stops working",
    },
  ],
};

/**
 * `clients add|list|remove|rotate-secret`: manages registered clients; every change goes to the
 * audit trail. Throws {@linkcode UsageError} for wrong arguments.
 */
export async function clientsCommand(
  args: string[],
  deps: { store: ClientStore; config: Config; events?: SecurityEvents },
): Promise<void> {
  const { store, config, events = UNRECORDED } = deps;
  const invocation = parseCommandLine(CLIENTS_COMMAND, args);
  if (invocation.help !== undefined) {
    console.log(invocation.help);
    return;
  }
  const { command, values, positionals: [clientId] } = invocation;
  if (command.name === "clients add") {
    return await add(readRegistration(clientId, values), { store, config, events });
  }
  if (command.name === "clients list") {
    for (const client of await store.listClients()) console.log(describe(client));
    return;
  }
  if (command.name === "clients remove") {
    const tokenAcceptanceSeconds = LONGEST_ACCESS_TOKEN_ACCEPTANCE_SECONDS;
    if (!await removeClient(store, clientId, { tokenAcceptanceSeconds })) throw unknown(clientId);
    events.record({ event: "client_removed", client: clientId });
    console.log(`Removed client "${clientId}"`);
    return;
  }
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
}

async function add(
  registration: ClientRegistration,
  { store, config, events }: { store: ClientStore; config: Config; events: SecurityEvents },
): Promise<void> {
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

function readRegistration(clientId: string, values: OptionValues): ClientRegistration {
  const grants = values.grant as string[] | undefined;
  const scope = values.scope as string | undefined;
  const name = values.name as string | undefined;
  return {
    clientId,
    redirectUris: (values["redirect-uri"] ?? []) as string[],
    postLogoutRedirectUris: (values["post-logout-redirect-uri"] ?? []) as string[],
    public: values.public === true,
    firstParty: values["first-party"] === true,
    ...(scope !== undefined && { scope }),
    ...(grants !== undefined && {
      grantTypes: grants.flatMap((grant) => grant.split(/[\s,]+/)).filter(Boolean),
    }),
    ...(name !== undefined && { name }),
    ...(values["require-par"] === true && { requirePar: true }),
    ...(values.dpop === true && { dpopBound: true }),
  };
}

function describe(client: ClientRecord): string {
  return [
    client.clientId,
    ...(client.name === null ? [] : [`name=${JSON.stringify(client.name)}`]),
    client.secretHash === null ? "public" : "confidential",
    client.firstParty ? "first-party" : "third-party",
    `grants=${client.grantTypes.join(",")}`,
    `scope="${client.scope}"`,
    ...(client.dpopBound ? ["dpop"] : []),
    ...client.redirectUris.map((uri) => `redirect_uri=${uri}`),
    ...client.postLogoutRedirectUris.map((uri) => `post_logout_redirect_uri=${uri}`),
    ...(client.requirePar ? ["require-par"] : []),
  ].join("  ");
}

function unknown(clientId: string): InputError {
  return new InputError(`Client "${clientId}" does not exist`);
}
