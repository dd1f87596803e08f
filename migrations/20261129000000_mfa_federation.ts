import type { Knex } from 'knex';

// Stronger sign-in: second factors (TOTP, recovery codes, passkeys) and upstream identity
// providers with the identities they vouch for. Every secret here is sealed under the master
// key or stored as a digest; a database dump signs no one in.

export async function up(knex: Knex): Promise<void> {
  // One authenticator app per user; confirmed_at stays null until the first code proves the
  // user copied the secret. last_used_step refuses a code a second time within its window.
  await knex.schema.createTable('totp_factors', (table) => {
    table.uuid('user_id').primary().references('id').inTable('users').onDelete('CASCADE');
    table.text('secret_sealed').notNullable();
    table.timestamp('confirmed_at', { useTz: true });
    table.bigInteger('last_used_step');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Single-use codes for when the other factors are lost: SHA-256 of 80 random bits each.
  await knex.schema.createTable('recovery_codes', (table) => {
    table.uuid('id').primary();
    table.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.text('code_hash').notNullable();
    table.timestamp('used_at', { useTz: true });
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['user_id', 'code_hash']);
  });

  await knex.schema.createTable('passkeys', (table) => {
    table.uuid('id').primary();
    table.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    // The authenticator's credential id (base64url): what an assertion names.
    table.text('credential_id').notNullable().unique();
    table.text('public_key').notNullable();
    table.bigInteger('counter').notNullable().defaultTo(0);
    table.specificType('transports', 'text[]').notNullable().defaultTo('{}');
    // multiDevice: synced (a software-held key, amr swk); singleDevice: bound to hardware (hwk).
    table.text('device_type').notNullable();
    table.boolean('backed_up').notNullable().defaultTo(false);
    table.text('name').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_used_at', { useTz: true });
    table.index(['user_id']);
  });

  // WebAuthn challenges, good once and briefly, on whichever node the answer reaches.
  await knex.schema.createTable('webauthn_challenges', (table) => {
    table.text('challenge').primary();
    table.text('purpose').notNullable();
    table.uuid('user_id').references('id').inTable('users').onDelete('CASCADE');
    // The sign-in (interaction uid) the challenge was issued for, so it answers no other.
    table.text('bound_to');
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.index(['expires_at']);
  });

  await knex.schema.createTable('upstream_providers', (table) => {
    // A short name chosen by the admin: part of the callback URL registered upstream.
    table.text('id').primary();
    table.text('kind').notNullable();
    table.text('display_name').notNullable();
    table.text('issuer');
    table.text('client_id').notNullable();
    table.text('client_secret_sealed');
    table.specificType('scopes', 'text[]').notNullable();
    // Home-realm discovery: addresses at these domains go straight to this provider.
    table.specificType('email_domains', 'text[]').notNullable().defaultTo('{}');
    // Preset-specific settings: a Microsoft tenant, GitHub Enterprise addresses.
    table.jsonb('settings').notNullable().defaultTo('{}');
    table.boolean('enabled').notNullable().defaultTo(true);
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("ALTER TABLE upstream_providers ADD CONSTRAINT upstream_providers_kind_check CHECK (kind IN ('oidc', 'google', 'microsoft', 'github'))");

  await knex.schema.createTable('upstream_identities', (table) => {
    table.uuid('id').primary();
    table.text('provider_id').notNullable().references('id').inTable('upstream_providers').onDelete('CASCADE');
    table.text('subject').notNullable();
    table.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    table.text('email');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_used_at', { useTz: true });
    table.unique(['provider_id', 'subject']);
    table.index(['user_id']);
  });

  // A trip to an upstream provider in progress, found again by the digest of its state.
  await knex.schema.createTable('upstream_sign_ins', (table) => {
    table.text('state_hash').primary();
    table.text('provider_id').notNullable().references('id').inTable('upstream_providers').onDelete('CASCADE');
    table.text('interaction_uid').notNullable();
    // Digest of a cookie set on the browser that started the trip: a callback carrying this state
    // in any other browser (an attacker's link, with the victim's code) is refused.
    table.text('browser_hash').notNullable();
    table.text('code_verifier_sealed').notNullable();
    table.text('nonce').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.index(['expires_at']);
  });

  // Every node keeps the providers the login page shows in memory (cache/catalog.ts); a change bumps this.
  await knex('change_counters').insert({ topic: 'upstream_providers' });

  await knex.raw('ALTER TABLE users DROP CONSTRAINT users_created_via_check');
  await knex.raw("ALTER TABLE users ADD CONSTRAINT users_created_via_check CHECK (created_via IN ('admin', 'signup', 'import', 'upstream'))");
}

export async function down(knex: Knex): Promise<void> {
  await knex('change_counters').where({ topic: 'upstream_providers' }).delete();
  await knex.raw("UPDATE users SET created_via = 'signup' WHERE created_via = 'upstream'");
  await knex.raw('ALTER TABLE users DROP CONSTRAINT users_created_via_check');
  await knex.raw("ALTER TABLE users ADD CONSTRAINT users_created_via_check CHECK (created_via IN ('admin', 'signup', 'import'))");
  for (const table of ['upstream_sign_ins', 'upstream_identities', 'upstream_providers', 'webauthn_challenges', 'passkeys', 'recovery_codes', 'totp_factors']) {
    await knex.schema.dropTable(table);
  }
}
