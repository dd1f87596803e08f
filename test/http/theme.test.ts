import test from 'ava';
import { contrast, parseHex, themeStylesheet } from '../../src/http/theme.js';

const property = (css: string, name: string) => parseHex(new RegExp(`--${name}: (#[0-9a-f]{6});`).exec(css)![1]!);

// Brand colors operators pick, light and dark, including ones where neither white nor dark
// text reaches 4.5:1 on the color as given.
for (const color of ['#1c7ed6', '#f03e3e', '#808080', '#ffcc00', '#3b4fd8', '#00a86b', '#000', '#fff']) {
  test(`with LATCHKEY_THEME_PRIMARY_COLOR=${color} buttons and links meet WCAG AA contrast`, (t) => {
    const css = themeStylesheet({ name: 'Acme', logoUrl: undefined, primaryColor: color });
    const text = property(css, 'color-on-primary');
    t.true(contrast(property(css, 'color-primary'), text) >= 4.5, 'button text on the button');
    t.true(contrast(property(css, 'color-primary-dark'), text) >= 4.5, 'button text on the hovered button');
    t.true(contrast(property(css, 'color-link'), parseHex('#ffffff')) >= 4.5, 'links on white');
  });
}

test('a color that is readable as given is used as given', (t) => {
  t.regex(themeStylesheet({ name: 'Acme', logoUrl: undefined, primaryColor: '#3b4fd8' }), /--color-primary: #3b4fd8;/);
});
