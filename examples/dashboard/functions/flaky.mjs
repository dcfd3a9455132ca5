// A producer that fails for part of every minute, so that the dashboard has a producer status to show:
// from second `down_from` to the end of each minute it throws, as an upstream in maintenance would.
// Between times it reports a queue length that wanders between 0 and 40.
let queued = 12;

export default function flaky({ down_from: downFrom = 45 }) {
  if (new Date().getUTCSeconds() >= downFrom)
    throw new Error(`queue service in maintenance (from :${downFrom} each minute)`);
  queued = Math.min(40, Math.max(0, queued + Math.round(Math.random() * 6 - 3)));
  return { value: queued };
}
