import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

// Private signing keys and cookie secrets leave plaintext: each is sealed (AES-256-GCM) under the
// master key, and signing keys get a lifecycle (published before they sign, kept after they
// stop signing until every token they signed has expired).

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv', 'k']);

function publicPart(jwk: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(jwk).filter(([member]) => !PRIVATE_MEMBERS.has(member)));
}

function parsed(value: unknown): Record<string, unknown> {
  return (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
}

export async function up(knex: Knex, { sealer }: MigrationContext): Promise<void> {
  await knex.schema.alterTable('signing_keys', (table) => {
    table.jsonb('public_jwk');
    // Null once the key is retired: its private half is destroyed.
    table.text('sealed_private_jwk');
    table.timestamp('activates_at', { useTz: true });
    table.timestamp('superseded_at', { useTz: true });
    table.timestamp('retires_at', { useTz: true });
  });
  for (const row of await knex('signing_keys').select('kid', 'private_jwk', 'state', 'created_at')) {
    const jwk = parsed(row.private_jwk);
    // A key taken out of service before keeps no private half: it is retired.
    const inService = row.state === 'active';
    await knex('signing_keys')
      .where({ kid: row.kid })
      .update({
        public_jwk: JSON.stringify(publicPart(jwk)),
        sealed_private_jwk: inService ? sealer.seal(JSON.stringify(jwk), `signing_key:${row.kid}`) : null,
        activates_at: row.created_at,
      });
  }
  await knex.schema.alterTable('signing_keys', (table) => {
    table.dropColumn('private_jwk');
    table.dropColumn('state');
    table.jsonb('public_jwk').notNullable().alter();
    table.timestamp('activates_at', { useTz: true }).notNullable().defaultTo(knex.fn.now()).alter();
  });

  await knex.schema.alterTable('cookie_secrets', (table) => {
    table.text('sealed_secret');
    // A rotated-in secret signs only once every node has had time to learn it, so no node
    // rejects a cookie another node just signed.
    table.timestamp('activates_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('retires_at', { useTz: true });
  });
  for (const row of await knex('cookie_secrets').select('id', 'secret')) {
    await knex('cookie_secrets')
      .where({ id: row.id })
      .update({ sealed_secret: sealer.seal(row.secret as string, 'cookie_secret') });
  }
  await knex.schema.alterTable('cookie_secrets', (table) => {
    table.dropColumn('secret');
    table.text('sealed_secret').notNullable().alter();
  });
}

// For development only: pending and retiring keys come back as plain active ones (the old
// schema has no lifecycle), and the old code signs with the newest.
export async function down(knex: Knex, { sealer }: MigrationContext): Promise<void> {
  await knex.schema.alterTable('signing_keys', (table) => {
    table.jsonb('private_jwk');
    table.text('state').notNullable().defaultTo('active');
  });
  // A retired key has no private half left to put back.
  await knex('signing_keys').whereNull('sealed_private_jwk').delete();
  for (const row of await knex('signing_keys').select('kid', 'sealed_private_jwk')) {
    await knex('signing_keys')
      .where({ kid: row.kid })
      .update({ private_jwk: sealer.open(row.sealed_private_jwk as string, `signing_key:${row.kid}`) });
  }
  await knex.schema.alterTable('signing_keys', (table) => {
    table.dropColumn('public_jwk');
    table.dropColumn('sealed_private_jwk');
    table.dropColumn('activates_at');
    table.dropColumn('superseded_at');
    table.dropColumn('retires_at');
    table.jsonb('private_jwk').notNullable().alter();
  });

  await knex.schema.alterTable('cookie_secrets', (table) => {
    table.text('secret');
  });
  for (const row of await knex('cookie_secrets').select('id', 'sealed_secret')) {
    await knex('cookie_secrets')
      .where({ id: row.id })
      .update({ secret: sealer.open(row.sealed_secret as string, 'cookie_secret') });
  }
  await knex.schema.alterTable('cookie_secrets', (table) => {
    table.dropColumn('sealed_secret');
    table.dropColumn('activates_at');
    table.dropColumn('retires_at');
    table.text('secret').notNullable().alter();
  });
}
