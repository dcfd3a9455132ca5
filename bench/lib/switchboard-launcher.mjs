/**
 * What the bench launchers of Switchboard share: what `switchboard serve` does (settings from the
 * environment, createApp, listen, shut down on SIGTERM or SIGINT), plus one declared stream open to
 * viewers. The stream is declared through the channel registry's own API rather than the endpoint
 * configuration, whose streams each come with a producer: in a bench only the bench publishes.
 *
 * `runtime` is 'dist' (the built server) or 'source' (src/ through tsx).
 */
export async function serveWithStream(runtime, stream) {
  const base = new URL(runtime === 'source' ? '../../src/' : '../../dist/', import.meta.url);
  const { loadSettings } = await import(new URL('settings.js', base).href);
  const { createApp } = await import(new URL('app.js', base).href);
  const app = await createApp(loadSettings());
  app.live.channels.declare({ access: { minRole: 'viewer' }, ...stream });
  await app.start();
  let signals = 0;
  const stop = () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    app.shutdown().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return app;
}
