/**
 * @module
 * The lifecycle part of the store contract: closing, and opening a migrated database again.
 */
import assert from "node:assert/strict";
import type { ContractContext } from "./setup.ts";

/** Registers the lifecycle cases. */
export function lifecycleContract({ test, testReopening }: ContractContext): void {
  // --- closing ---

  test("close can be called twice", async (store) => {
    await store.close();
    await store.close();
  });

  // --- opening again ---

  testReopening(
    "opening an already migrated database again changes nothing",
    async (store, reopen) => {
      await store.addUser("alice", "$hash-a");
      await store.close();
      for (let i = 0; i < 2; i++) {
        const again = await reopen();
        assert.deepEqual(await again.listUsers(), ["alice"]);
        await again.close();
      }
    },
  );
}
