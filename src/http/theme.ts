import type { Config } from '../config.js';

type Rgb = [number, number, number];

function parseHex(hex: string): Rgb {
  const digits = hex.slice(1);
  const full = digits.length === 3 ? [...digits].map((digit) => digit + digit).join('') : digits;
  return [0, 2, 4].map((offset) => parseInt(full.slice(offset, offset + 2), 16)) as Rgb;
}

function toHex(rgb: Rgb): string {
  return `#${rgb.map((channel) => Math.round(channel).toString(16).padStart(2, '0')).join('')}`;
}

/** WCAG 2 relative luminance. */
function luminance(rgb: Rgb): number {
  const [r, g, b] = rgb.map((channel) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: Rgb, b: Rgb): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [27, 31, 42];

function darken(rgb: Rgb, amount: number): Rgb {
  return rgb.map((channel) => channel * (1 - amount)) as Rgb;
}

/** The color darkened just enough to read as text on white (WCAG AA, 4.5:1). */
function readableOnWhite(rgb: Rgb): Rgb {
  let color = rgb;
  for (let step = 0; step < 20 && contrast(color, WHITE) < 4.5; step += 1) color = darken(color, 0.08);
  return color;
}

/**
 * The theme as CSS custom properties, which the stylesheet uses throughout. Any primary color
 * an operator picks stays readable: buttons get white or dark text, whichever contrasts more,
 * and links a shade of the color dark enough for text on white.
 */
export function themeStylesheet(theme: Config['theme']): string {
  const primary = parseHex(theme.primaryColor);
  const onPrimary = contrast(primary, WHITE) >= contrast(primary, INK) ? WHITE : INK;
  return `:root {
  --color-primary: ${toHex(primary)};
  --color-primary-dark: ${toHex(darken(primary, 0.18))};
  --color-on-primary: ${toHex(onPrimary)};
  --color-link: ${toHex(readableOnWhite(primary))};
}
`;
}
