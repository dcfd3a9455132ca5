import { resolve } from 'node:path';
import {
  commaList,
  defineSection,
  duration,
  integer,
  type SectionSettings,
  text,
} from '../platform/settings-spec.js';
import { parseHostPattern } from './hosts.js';

/** What the endpoint configuration may reach and run, and how its producers share the work. */
export const endpointSettings = defineSection(
  {
    /** Hosts HTTP endpoints may reach; empty: none. */
    allowedHosts: {
      env: 'SWITCHBOARD_ENDPOINT_HOSTS',
      file: 'endpoint_hosts',
      default: '',
      accepts:
        'a comma-separated list of hosts: api.example.com, *.example.com, 10.0.0.5, [::1], ranges 10.0.0.0/8, [fd00::]/8, each optionally with :port',
      parse: commaList((host) => parseHostPattern(host) !== undefined),
      doc: 'Hosts the HTTP endpoints of the [endpoint configuration](endpoint-configuration.md) may reach. An entry without a port allows ports 80 and 443 only. A name that resolves to a loopback, private, link-local or other non-public address is refused unless that address, or a range holding it, is listed too (`localhost` counts as naming loopback); see [the allow-list](endpoint-configuration.md#the-allow-list). Empty: none, so a configuration cannot make the server call into its network until an operator allows it.',
    },
    functionsDir: {
      env: 'SWITCHBOARD_FUNCTIONS_DIR',
      file: 'functions_dir',
      ...text('a directory path'),
      doc: 'Directory holding the modules of local functions; a configuration cannot name a module outside it. Unset: `<data dir>/functions`.',
    },
    /** Saved and activated when the store is empty. */
    bootstrapFile: {
      env: 'SWITCHBOARD_ENDPOINTS_FILE',
      file: 'endpoints_file',
      ...text('a path to a JSON endpoint configuration'),
      doc: 'Endpoint configuration saved and activated as version 1.0.0 at start when no version is stored yet.',
    },
    leaseMs: {
      env: 'SWITCHBOARD_PRODUCER_LEASE',
      file: 'producer_lease',
      default: '10s',
      ...duration('1s', '5m'),
      doc: 'Lease that lets one instance run each stream; another instance takes a stream over within twice this once its holder stops renewing.',
    },
    configBodyLimitBytes: {
      env: 'SWITCHBOARD_CONFIG_BODY_LIMIT_BYTES',
      file: 'config_body_limit_bytes',
      default: '8388608',
      ...integer(1024, 104_857_600),
      doc: 'Largest body the configuration routes accept (they carry whole documents); larger is a 413.',
    },
  },
  (values, { dataDir }: { dataDir: string }) => ({
    ...values,
    functionsDir: resolve(values.functionsDir ?? resolve(dataDir, 'functions')),
    bootstrapFile: values.bootstrapFile === undefined ? undefined : resolve(values.bootstrapFile),
  }),
);

export type EndpointSettings = SectionSettings<typeof endpointSettings>;
