import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, type Dispatcher, Pool } from 'undici';

/** An address a host name resolved to. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

interface Pin {
  addresses: readonly ResolvedAddress[];
  users: number;
}

const familyOf = (family: unknown) =>
  family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : 0;

/**
 * An undici agent that connects an origin only to the addresses it was given for it, never to what a
 * lookup of its own would answer: the addresses checked against the allow-list are the ones connected
 * to, so a DNS answer that changes between the check and the connection (DNS rebinding) cannot switch
 * them. A connection kept alive from an earlier request went to addresses checked then. It is also an
 * agent of our own, so no redirect interceptor installed on the global dispatcher can make a request
 * follow a redirect out of the allow-list.
 */
export class PinnedAgent {
  private readonly pins = new Map<string, Pin>();

  readonly dispatcher: Dispatcher = new Agent({
    factory: (origin, options) => {
      const key = new URL(String(origin)).origin;
      const connect = (options as { connect?: object }).connect;
      return new Pool(origin, { ...options, connect: { ...connect, lookup: this.lookupFor(key) } });
    },
  });

  /** Runs `request` with new connections to `origin` going to `addresses` (all of them checked). */
  async pinned<T>(
    origin: string,
    addresses: readonly ResolvedAddress[],
    request: () => Promise<T>,
  ): Promise<T> {
    const pin = this.pins.get(origin);
    // Two polls of one origin at once: either's addresses are checked ones, so the newer ones serve both.
    if (pin) {
      pin.addresses = addresses;
      pin.users += 1;
    } else {
      this.pins.set(origin, { addresses, users: 1 });
    }
    try {
      return await request();
    } finally {
      const held = this.pins.get(origin) as Pin;
      held.users -= 1;
      if (held.users === 0) this.pins.delete(origin);
    }
  }

  private lookupFor(origin: string): LookupFunction {
    return (_hostname, options, callback) => {
      const family = familyOf(options.family);
      const addresses = (this.pins.get(origin)?.addresses ?? []).filter(
        (address) => family === 0 || address.family === family,
      );
      const first = addresses[0];
      if (first === undefined) {
        // Only a connection outside `pinned` gets here: it is refused rather than looked up.
        const error = Object.assign(new Error(`no checked address for ${origin}`), { code: 'ENOTCHECKED' });
        callback(error, options.all ? [] : '', 0);
        return;
      }
      if (options.all) {
        callback(
          null,
          addresses.map(({ address, family }): LookupAddress => ({ address, family })),
        );
      } else {
        callback(null, first.address, first.family);
      }
    };
  }
}
