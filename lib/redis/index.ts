/**
 * Redis Streams for sluice pipelines: a consumer-group source with end-to-end acknowledgements, a
 * sink, and a safe trim. Exported as `sluice/redis`; it is the only part of sluice that loads a Redis
 * client (`@redis/client`).
 *
 * @module
 */
export { redisSource, type RedisSource, type RedisSourceOptions, type RedisEntry, type RedisFields } from './source.js';
export { redisSink, type RedisSink, type RedisSinkOptions, type RedisFieldValues } from './sink.js';
export { trimStream, type TrimStreamOptions, type TrimResult } from './trim.js';
export { RedisError, RedisUnavailableError } from './errors.js';
export type { ConnectionOptions, RedisClient } from './connection.js';
