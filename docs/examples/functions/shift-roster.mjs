// A local function: called with the stream's `args`, returns what the stream publishes.
const crews = ['Blue', 'Green', 'Red'];

export default function shiftRoster({ timezone, shift_hours: shiftHours }) {
  const now = new Date();
  const hour = Number(
    new Intl.DateTimeFormat('en-GB', { hour: 'numeric', hourCycle: 'h23', timeZone: timezone }).format(now),
  );
  const shift = Math.floor(hour / shiftHours);
  const day = Math.floor(now.getTime() / 86_400_000);
  const crewAt = (offset) => crews[(day * (24 / shiftHours) + shift + offset) % crews.length];
  return {
    timezone,
    on_shift: crewAt(0),
    next: crewAt(1),
    ends_at_hour: ((shift + 1) * shiftHours) % 24,
  };
}
