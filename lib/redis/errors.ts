import { SluiceError } from '../errors.js';

/**
 * Redis refused a command with an error reply (`WRONGTYPE`, `NOGROUP`, `NOAUTH`, an out-of-memory
 * `OOM`…). Retrying will not help: the stage fails with it. The client's error is `cause`.
 */
export class RedisError extends SluiceError {
  /** The command Redis refused, e.g. `'XREADGROUP'`. */
  readonly command: string;

  constructor(where: string, command: string, key: string, cause: unknown) {
    super('ERR_SLUICE_REDIS', `${where}: ${command} on ${JSON.stringify(key)} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.command = command;
  }
}

/**
 * Redis could not be reached, or did not answer, for `reconnectTimeout` milliseconds while the client
 * kept reconnecting. The last connection error is `cause`.
 */
export class RedisUnavailableError extends SluiceError {
  /** How long the stage waited, in milliseconds. */
  readonly timeout: number;

  constructor(where: string, what: string, timeout: number, cause: unknown) {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    super('ERR_SLUICE_REDIS_UNAVAILABLE', `${where}: no answer from Redis to ${what} for ${timeout} ms${reason}`, { cause });
    this.timeout = timeout;
  }
}
