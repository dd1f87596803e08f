/** The layout, the language switcher and what several areas share. */
export const common = {
  'layout.title': '{page} · {product}',
  'layout.title_in_section': '{page} · {section} · {product}',
  'layout.skip_to_content': 'Skip to content',
  'layout.secured_by': 'Secured by {product}',
  'layout.language': 'Language',
  'common.cancel': 'Cancel',
  'common.sign_out': 'Sign out',
  'common.the_application': 'the application',
};
