import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Principal } from '../../src/auth/principal.js';
import type { Role } from '../../src/auth/roles.js';
import {
  CHANNEL_KINDS,
  kindOf,
  MAX_CHANNEL_NAME_LENGTH,
  streamNameProblem,
} from '../../src/live/channel-kinds.js';
import { ChannelRegistry } from '../../src/live/channels.js';
import { errorCode } from '../client.js';
import { type SignedIn, startTestApp, type TestApp } from '../fixture.js';
import { LiveSocket, socketUrl } from '../live-client.js';

const DEFAULTS = { size: 1000, maxAgeMs: 600_000 };

function principal(userId: string, role: Role, groups: string[] = []): Principal {
  return {
    userId,
    username: userId,
    fullName: null,
    role,
    userRole: role,
    groups,
    mustChangePassword: false,
    authMethod: 'password',
    credential: 'bearer',
    sessionId: `session-${userId}`,
    apiKeyId: null,
    scopes: [],
    expiresAt: null,
  };
}

const viewer = principal('u-viewer', 'viewer');
const editor = principal('u-editor', 'editor', ['ops']);
const admin = principal('u-admin', 'admin');

function registry(): ChannelRegistry {
  const channels = new ChannelRegistry(DEFAULTS);
  channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
  channels.declare({ name: 'plant.alarms', access: { minRole: 'editor', groups: { oneOf: ['ops'] } } });
  return channels;
}

/**
 * One case per kind: names it owns, names it must leave to others, and its rules through the registry. A
 * kind added to CHANNEL_KINDS without its case here fails the first test.
 */
const CASES: Record<string, { owns: string[]; leaves: string[]; rules(channels: ChannelRegistry): void }> = {
  stream: {
    owns: ['weather', 'plant.alarms', 'a', `s${'x'.repeat(63)}`, 'status', 'users'],
    leaves: ['config', 'Weather', '1st', `s${'x'.repeat(64)}`, 'user:u-viewer'],
    rules(channels) {
      const weather = channels.get('weather');
      expect(weather).toMatchObject({
        kind: 'stream',
        writers: 'publishers',
        statusChannel: 'status:weather',
      });
      expect(weather?.history).toEqual(DEFAULTS);
      expect(channels.admits(viewer, 'plant.alarms')).toBe(false);
      expect(channels.admits(editor, 'plant.alarms')).toBe(true);
      expect(channels.admits(admin, 'plant.alarms')).toBe(false);
      // Undeclared: no channel, so unknown and forbidden look alike.
      expect(channels.get('rain')).toBeUndefined();
      expect(channels.admits(admin, 'rain')).toBe(false);
    },
  },
  user: {
    owns: ['user:u-viewer', `user:${'A'.repeat(64)}`, 'user:0b5c8f4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f'],
    leaves: ['user:', 'user:a.b', `user:${'A'.repeat(65)}`, 'users'],
    rules(channels) {
      expect(channels.get('user:u-viewer')).toMatchObject({
        kind: 'user',
        writers: 'switchboard',
        statusChannel: undefined,
      });
      expect(channels.admits(viewer, 'user:u-viewer')).toBe(true);
      expect(channels.admits(admin, 'user:u-viewer')).toBe(false);
    },
  },
  config: {
    owns: ['config'],
    leaves: ['config.x', 'configs'],
    rules(channels) {
      expect(channels.get('config')).toMatchObject({ kind: 'config', writers: 'switchboard' });
      expect(channels.admits(viewer, 'config')).toBe(false);
      expect(channels.admits(editor, 'config')).toBe(true);
      expect(channels.admits(admin, 'config')).toBe(true);
    },
  },
  status: {
    owns: ['status:weather', `status:s${'x'.repeat(63)}`],
    leaves: ['status', 'status:', 'status:Weather'],
    rules(channels) {
      // Never named by clients: it travels beside its stream, one event deep.
      expect(channels.get('status:weather')).toBeUndefined();
      expect(channels.admits(admin, 'status:weather')).toBe(false);
      expect(channels.historyOf('status:weather')).toEqual({ size: 1, maxAgeMs: 7 * 86_400_000 });
    },
  },
};

describe('channel kinds', () => {
  it('each has its case here', () => {
    expect(CHANNEL_KINDS.map((kind) => kind.kind).sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [kind, { owns, leaves, rules }] of Object.entries(CASES)) {
    it(`${kind}: owns its names, within the one length limit, and leaves the others`, () => {
      for (const name of owns) {
        expect(kindOf(name)?.kind, name).toBe(kind);
        expect(name.length).toBeLessThanOrEqual(MAX_CHANNEL_NAME_LENGTH);
      }
      for (const name of leaves) expect(kindOf(name)?.kind, name).not.toBe(kind);
    });

    it(`${kind}: who may follow and who writes`, () => rules(registry()));
  }

  it('lets streams be declared under their names only: the built-ins keep theirs', () => {
    expect(streamNameProblem('weather')).toBeUndefined();
    expect(streamNameProblem('status')).toBeUndefined();
    expect(streamNameProblem('config')).toBe('"config" is a built-in channel');
    for (const name of ['user:u1', 'status:weather', 'Weather', `s${'x'.repeat(64)}`]) {
      expect(streamNameProblem(name), name).toMatch(/^must be a channel name/);
    }
    expect(() => registry().declare({ name: 'config', access: {} })).toThrow(/built-in/);
  });

  it('lists what a principal may follow, kind by kind', () => {
    const names = (who: Principal) =>
      registry()
        .visibleTo(who)
        .map((channel) => channel.name);
    expect(names(viewer)).toEqual(['user:u-viewer', 'weather']);
    expect(names(editor)).toEqual(['user:u-editor', 'config', 'weather', 'plant.alarms']);
  });
});

describe('channel names over WebSocket, SSE and publish', () => {
  let t: TestApp;
  let signedIn: SignedIn;
  let socket: LiveSocket;

  beforeAll(async () => {
    t = await startTestApp();
    signedIn = await t.signIn(await t.createUser({ role: 'admin' }));
    t.app.live.channels.declare({ name: 'weather', access: { minRole: 'viewer' } });
    socket = new LiveSocket(
      new WebSocket(socketUrl(t), { headers: { authorization: `Bearer ${signedIn.accessToken}` } }),
    );
    await socket.opened;
  });
  afterAll(async () => {
    await socket.close();
    await t.close();
  });

  const publish = async (name: string) => {
    const path = `/api/v1/streams/${encodeURIComponent(name)}/publish`;
    const res = await signedIn.client.call(path, { method: 'POST', json: 1 });
    return `${res.status}/${errorCode(res) ?? ''}`;
  };

  /** How each path refuses `name`: the WebSocket's error code, the SSE and publish statuses and codes. */
  async function refusals(name: string) {
    const subscribed = await socket.subscribe(name);
    const sse = await signedIn.client.call(`/api/v1/streams/${encodeURIComponent(name)}/events`);
    return {
      ws: subscribed.type === 'error' ? subscribed.code : subscribed.type,
      sse: `${sse.status}/${errorCode(sse)}`,
      publish: await publish(name),
    };
  }

  it('hold every name to one length limit', async () => {
    const longest = `s${'x'.repeat(MAX_CHANNEL_NAME_LENGTH - 1)}`;
    expect(await refusals(longest)).toEqual({ ws: 3000, sse: '404/3000', publish: '404/3000' });
    expect(await refusals(`${longest}x`)).toEqual({ ws: 2000, sse: '422/2000', publish: '422/2000' });
  });

  it('answer for a status channel as for one that does not exist, and refuse writes to the built-ins', async () => {
    expect(await refusals('status:weather')).toEqual({ ws: 3000, sse: '404/3000', publish: '404/3000' });
    expect(await refusals('user:someone-else')).toEqual({ ws: 3000, sse: '404/3000', publish: '403/1001' });
    expect(await publish('config')).toBe('403/1001');
    expect(await publish(`user:${signedIn.body.data.user.id}`)).toBe('403/1001');
    expect(await publish('weather')).toBe('202/');
  });
});
