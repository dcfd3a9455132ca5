/** The last values of a channel as a line; the text beside it says the same for screen readers. */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const width = 200;
  const height = 48;
  if (values.length < 2)
    return (
      <svg
        class="sparkline"
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${label}: waiting for values`}
      />
    );
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = width / (values.length - 1);
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 4 - ((v - min) / span) * (height - 8)).toFixed(1)}`)
    .join(' ');
  return (
    <svg
      class="sparkline"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`${label}: last ${values.length} values, from ${min} to ${max}`}
    >
      <polyline
        points={points}
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        vector-effect="non-scaling-stroke"
      />
    </svg>
  );
}
