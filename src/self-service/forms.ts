import { z } from 'zod';

// Whatever was posted, as strings: a missing or odd field is an empty one, which the domain refuses by name.
const field = z.string().max(2000).catch('');

const schemas = {
  signup: z.object({ name: field, email: field, password: field, return_to: field }),
  email: z.object({ email: field, return_to: field }),
  token: z.object({ token: field }),
  newPassword: z.object({ token: field, password: field }),
};

function read<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return schema.parse(body && typeof body === 'object' ? body : {});
}

export function signupForm(body: unknown) {
  const form = read(schemas.signup, body);
  return { name: form.name.trim() === '' ? undefined : form.name, email: form.email, password: form.password, returnTo: form.return_to };
}

/** The forgotten-password and resend-confirmation forms: an address and where to go back to. */
export function emailForm(body: unknown) {
  const form = read(schemas.email, body);
  return { email: form.email, returnTo: form.return_to };
}

export function tokenForm(body: unknown): { token: string } {
  return read(schemas.token, body);
}

export function newPasswordForm(body: unknown): { token: string; password: string } {
  return read(schemas.newPassword, body);
}
