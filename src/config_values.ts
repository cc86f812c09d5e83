/**
 * @module
 * Reading one setting's text into a value: whole numbers, durations in seconds, booleans, ports
 * and https:// URLs. Every problem is one {@linkcode ConfigError} line naming the setting, what
 * it takes and, where it can tell, what to write instead. It reads no environment itself.
 */
import { DAY_SECONDS, HOUR_SECONDS, MINUTE_SECONDS } from "./clock.ts";

/** A configuration problem, reported as one line that names the setting. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A whole number from `min` to `max`; `fallback` when unset or empty. */
export function integer(
  name: string,
  value: string | undefined,
  { fallback, min, max = Number.MAX_SAFE_INTEGER }: { fallback: number; min: number; max?: number },
): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return parsed;
}

/** Units a duration is sometimes written with, in seconds, to say what number to write. */
const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  m: MINUTE_SECONDS,
  min: MINUTE_SECONDS,
  h: HOUR_SECONDS,
  d: DAY_SECONDS,
};

/**
 * A duration setting, in whole seconds from `min` to `max`; `maxName` names the setting the
 * bound comes from. A value written with a unit ("15m") is refused with the number to write.
 */
export function seconds(
  name: string,
  value: string | undefined,
  { fallback, min, max, maxName }: { fallback: number; min: number; max: number; maxName?: string },
): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (/^\d+$/.test(value) && parsed >= min && parsed <= max) return parsed;
  const upper = maxName
    ? `${maxName} (${max}, ${humanDuration(max)})`
    : `${max} (${humanDuration(max)})`;
  const withUnit = /^(\d+)\s*(s|m|min|h|d)$/i.exec(value.trim());
  const converted = withUnit && Number(withUnit[1]) * UNIT_SECONDS[withUnit[2].toLowerCase()];
  const hint = converted === null
    ? ""
    : converted >= min && converted <= max
    ? `; for ${value.trim()} write ${converted}`
    : ` (${value.trim()} is ${converted} seconds)`;
  throw new ConfigError(
    `${name} is in seconds: a whole number from ${min} to ${upper}, not "${value}"${hint}`,
  );
}

/** Seconds as the largest whole unit: "1 day", "400 days", "5 minutes", "90 seconds". */
function humanDuration(total: number): string {
  const units = [["day", DAY_SECONDS], ["hour", HOUR_SECONDS], ["minute", MINUTE_SECONDS]] as const;
  for (const [unit, size] of units) {
    if (total >= size && total % size === 0) {
      const count = total / size;
      return `${count} ${unit}${count === 1 ? "" : "s"}`;
    }
  }
  return `${total} second${total === 1 ? "" : "s"}`;
}

/** `true`/`1` or `false`/`0`; false when unset or empty. */
export function boolean(name: string, value: string | undefined): boolean {
  if (value === undefined || value === "" || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw new ConfigError(`${name} must be true or false, not "${value}"`);
}

/** A TCP port, 0 to 65535; `fallback` when unset or empty. */
export function portNumber(name: string, value: string | undefined, fallback: number): number {
  return integer(name, value, { fallback, min: 0, max: 65535 });
}

/** An https:// URL without trailing slashes, or undefined when unset or empty. */
export function httpsUrl(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!URL.canParse(value) || new URL(value).protocol !== "https:") {
    throw new ConfigError(`${name} must be an https:// URL, not "${value}"`);
  }
  return value.replace(/\/+$/, "");
}

/** Length of `text` in UTF-8 bytes, as secrets are measured. */
export function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}
