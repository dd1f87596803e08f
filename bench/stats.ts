/** The value below which `p` percent of the sorted values fall (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(rank, 1)) - 1]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Lowest and highest, as a fraction of the median either side: how far apart the runs were. */
export function spread(values: number[]): number {
  const middle = median(values);
  if (values.length < 2 || middle === 0) return 0;
  return Math.max(middle - Math.min(...values), Math.max(...values) - middle) / middle;
}
