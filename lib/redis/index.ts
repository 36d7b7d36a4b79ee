/**
 * Redis Streams for sluice pipelines: a consumer-group source with end-to-end acknowledgements, a
 * sink, and a safe trim. Exported as `sluice/redis`; it is the only part of sluice that loads a Redis
 * client (`@redis/client`).
 *
 * @module
 */
export { redisSource, type RedisSource } from './source.js';
export type { RedisSourceOptions, RedisEntry, RedisFields } from './source-options.js';
export { redisSink, type RedisSink, type RedisSinkOptions, type RedisFieldValues } from './sink.js';
export { trimStream, type TrimStreamOptions, type TrimResult } from './trim.js';
export { RedisError, RedisUnavailableError } from './errors.js';
export type { ConnectionOptions, RedisClient } from './connection.js';
