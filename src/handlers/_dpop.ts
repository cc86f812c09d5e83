/**
 * @module
 * The DPoP step of the token endpoint (RFC 9449 §5), which every grant goes through: the
 * request's `DPoP` header checked against the token endpoint's URL, the client's rule that it
 * must send one, and the binding the grant then issues its tokens with. It also words the answer:
 * `token_type` `DPoP` and the nonce to use next.
 */
import type { ClientIdentity } from "../auth/clients/registry.ts";
import type { DpopProofs } from "../auth/tokens/dpop_proofs.ts";
import type { DpopBinding } from "../auth/tokens/refresh_families.ts";
import type { RequestContext } from "../http/context.ts";
import { originOf, requestProof } from "./_authenticate.ts";

/** How the tokens of a grant are bound, as the answer tells the client. */
export interface TokenBinding {
  /** The key the tokens are bound to; undefined for Bearer tokens. */
  dpop?: DpopBinding;
  /** The DPoP nonce to hand out with the answer, when nonces are required. */
  nonce?: string;
}

/**
 * Checks the DPoP proof of a token request of `client`, if any: a public client's refresh family
 * is bound to the key as well as its access tokens; a client registered with `--dpop` must send
 * a proof.
 */
export async function tokenRequestBinding(
  req: Request,
  ctx: RequestContext,
  { dpop, client }: { dpop: DpopProofs; client: ClientIdentity },
): Promise<TokenBinding> {
  const proof = await requestProof(req, ctx, dpop);
  if (!proof && client.registered?.dpopBound) {
    throw dpop.refuse(
      "missing",
      `Client "${client.clientId}" must send a DPoP proof with every token request`,
      originOf(ctx),
    );
  }
  const nonce = await dpop.nonce();
  if (!proof) return { nonce };
  return { dpop: { jkt: proof.jkt, bindsRefresh: !client.authenticated }, nonce };
}
