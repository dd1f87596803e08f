import type { Config } from '../config.js';

export type Rgb = [number, number, number];

export function parseHex(hex: string): Rgb {
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

export function contrast(a: Rgb, b: Rgb): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [27, 31, 42];

function darken(rgb: Rgb, amount: number): Rgb {
  return rgb.map((channel) => channel * (1 - amount)) as Rgb;
}

function lighten(rgb: Rgb, amount: number): Rgb {
  return rgb.map((channel) => channel + (255 - channel) * amount) as Rgb;
}

/** WCAG AA for normal text. */
const READABLE = 4.5;

/** `color` shaded step by step (darker or lighter) until `text` reads on it, or as far as shading goes. */
function shadedFor(color: Rgb, text: Rgb, shade: (rgb: Rgb, amount: number) => Rgb): Rgb {
  let shaded = color;
  for (let step = 0; step < 30 && contrast(shaded, text) < READABLE; step += 1) shaded = shade(shaded, 0.06);
  return shaded;
}

/**
 * The theme as CSS custom properties, which the stylesheet uses throughout. Any primary color
 * an operator picks stays readable (WCAG AA, 4.5:1): buttons get white or dark text, whichever
 * contrasts more, on the color shaded just enough for that text (their hover a shade further);
 * links use a shade dark enough to read on white.
 */
export function themeStylesheet(theme: Config['theme']): string {
  const chosen = parseHex(theme.primaryColor);
  const onPrimary = contrast(chosen, WHITE) >= contrast(chosen, INK) ? WHITE : INK;
  const shade = onPrimary === WHITE ? darken : lighten;
  const primary = shadedFor(chosen, onPrimary, shade);
  const hover = shadedFor(shade(primary, 0.15), onPrimary, shade);
  return `:root {
  --color-primary: ${toHex(primary)};
  --color-primary-dark: ${toHex(hover)};
  --color-on-primary: ${toHex(onPrimary)};
  --color-link: ${toHex(shadedFor(chosen, WHITE, darken))};
}
`;
}
