import { z } from 'zod';

const loginSchema = z.object({
  email: z.string().max(1000).catch(''),
  password: z.string().max(1000).catch(''),
});

/** Whatever was posted, as two strings: a missing or odd field is just a failed sign-in. */
export function loginForm(body: unknown): { email: string; password: string } {
  return loginSchema.parse(body && typeof body === 'object' ? body : {});
}
