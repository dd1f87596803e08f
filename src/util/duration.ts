const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "30s", "15m", "1h", "14d" -> seconds; "500ms" -> 0.5. undefined when unreadable. */
export function parseDuration(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  return unit === 'ms' ? amount / 1000 : amount * (units[unit] ?? 1);
}
