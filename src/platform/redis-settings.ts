import { defineSection, type SectionSettings } from './settings-spec.js';

/** The Redis that several instances share; without it, each instance keeps its own. */
export const redisSettings = defineSection({
  redisUrl: {
    env: 'SWITCHBOARD_REDIS_URL',
    file: 'redis_url',
    accepts: 'a redis:// or rediss:// URL',
    parse: (value) => (/^rediss?:\/\/\S+$/.test(value.trim()) ? value.trim() : undefined),
    doc: 'Redis shared by all instances: rate-limit counters and slots, live events and their history, connect tickets and session events. Unset: all of these stay in each instance. A secret, since the URL may hold a password.',
    secret: true,
  },
  redisKeyPrefix: {
    env: 'SWITCHBOARD_REDIS_KEY_PREFIX',
    file: 'redis_key_prefix',
    default: 'switchboard:',
    accepts: '1 to 64 characters without spaces',
    parse: (value) => (/^\S{1,64}$/.test(value) ? value : undefined),
    doc: 'Prefix of every Redis key, so several deployments can share one Redis.',
  },
});

export type RedisSettings = SectionSettings<typeof redisSettings>;
