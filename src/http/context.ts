/** Per-request facts that handlers and the access log share. */
export interface RequestContext {
  /** Identifier echoed in `X-Request-Id` and in log lines. */
  requestId: string;
  /** Client IP address as seen by the server. */
  remoteAddress: string;
  /** Named groups of the matched route pattern. */
  params: Record<string, string | undefined>;
  /** The authenticated user, set by handlers that check a token. */
  user?: string;
}

/** A request handler. */
export type Handler = (req: Request, ctx: RequestContext) => Response | Promise<Response>;
