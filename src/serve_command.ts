/**
 * @module
 * The `serve` command's flags (and `start`'s, which is `serve --dev`), from which its parser (in config_load.ts) and its help (in
 * main.ts) are made. It only describes: reading the flags and acting on them are elsewhere.
 */
import { DEFAULT_CERT_DIR } from "./certs/default_paths.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "./config_defaults.ts";
import { ENV_VARIABLES } from "./config_environment.ts";
import type { CommandSpec } from "./usage.ts";

/** `serve`'s flags, from which its parser and its help are made. */
export const SERVE_COMMAND: CommandSpec = {
  name: "serve",
  summary:
    "Serve the API over HTTPS, configured by environment variables (each with its default in src/README.md, Configuration); deno task start runs serve --dev",
  details: [`Environment: ${ENV_VARIABLES.join(", ")}.`],
  options: [
    {
      name: "port",
      value: "N",
      help: `HTTPS port, instead of PORT (default ${DEFAULT_PORT}; 0 picks a free one)`,
    },
    {
      name: "host",
      value: "HOST",
      help:
        `Address to listen on, instead of HOST (default ${DEFAULT_HOST}; 0.0.0.0 for every address, with PUBLIC_URL set)`,
    },
    {
      name: "dev",
      help:
        `Development mode (deno task start): make a self-signed certificate in ${DEFAULT_CERT_DIR}/ when there is none and create the demo users user1 and user2`,
    },
    {
      name: "check",
      help:
        "Check the configuration, the certificate and key, and the store (read-only), print what would be served, and exit without listening or writing",
    },
  ],
};

/** `deno task start`, which runs `serve --dev`: its help, so it names the command that was typed. */
export const START_COMMAND: CommandSpec = {
  name: "start",
  summary:
    `Serve the API over HTTPS for development: serve --dev, which makes a self-signed certificate in ${DEFAULT_CERT_DIR}/ when there is none and creates the demo users user1 and user2; configured by environment variables as serve is (src/README.md, Configuration)`,
  details: SERVE_COMMAND.details,
  options: SERVE_COMMAND.options!.filter((option) => option.name !== "dev"),
};
