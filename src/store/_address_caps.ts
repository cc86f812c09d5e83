/**
 * @module
 * What both backends count against one client address's cap, written once: the tables whose rows
 * carry the address they came from, which of their rows still hold a place, and whether expired
 * rows may be deleted when counting. Pure SQL text: it reads no database and no clock.
 */

/** The tables whose rows count against their address's cap. */
export type AddressCappedTable = "pending_requests" | "pushed_requests" | "device_authorizations";

/** How the rows of one capped table count. */
export interface AddressCap {
  /**
   * Whether the address's expired rows are deleted before counting: not where an expired row is
   * still read (a device polling an expired code is told so until its retention ends).
   */
  deleteExpired: boolean;
  /** The SQL condition, beside being unexpired, under which a row still holds a place. */
  holdsPlace: string;
}

/** Every capped table's rule. */
export const ADDRESS_CAPS: Readonly<Record<AddressCappedTable, AddressCap>> = {
  pending_requests: { deleteExpired: true, holdsPlace: "true" },
  pushed_requests: { deleteExpired: true, holdsPlace: "true" },
  // Approved codes wait for the device's poll; used, denied and expired ones hold no place.
  device_authorizations: { deleteExpired: false, holdsPlace: "status IN ('pending', 'approved')" },
};
