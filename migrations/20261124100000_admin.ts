import type { Knex } from 'knex';

// SHA-256 as base64url, the same digest src/util/digest.ts computes.
const sqlDigest = (column: string) => `rtrim(translate(encode(sha256(convert_to(${column}, 'UTF8')), 'base64'), '+/', '-_'), '=')`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (table) => {
    table.boolean('is_admin').notNullable().defaultTo(false);
  });

  await knex.schema.alterTable('clients', (table) => {
    // Only a SHA-256 of each secret is kept: a dump must not let anyone authenticate as a client.
    table.text('client_secret_hash');
    // The secret a rotation replaced, still accepted until previous_secret_expires_at.
    table.text('previous_secret_hash');
    table.timestamp('previous_secret_expires_at', { useTz: true });
    table.boolean('first_party').notNullable().defaultTo(false);
    table.boolean('admin_access').notNullable().defaultTo(false);
    table.boolean('registered_dynamically').notNullable().defaultTo(false);
  });
  await knex.raw(`UPDATE clients SET client_secret_hash = ${sqlDigest('client_secret')} WHERE client_secret IS NOT NULL`);
  await knex.schema.alterTable('clients', (table) => {
    table.dropColumn('client_secret');
  });

  // grant_id becomes the digest of the grant id, which is also the Grant row's own id: one key
  // joins a grant to its tokens, and admins can name a grant without holding its raw id.
  await knex.raw(`UPDATE oidc_payloads SET grant_id = ${sqlDigest('grant_id')} WHERE grant_id IS NOT NULL`);
  await knex.raw(`UPDATE oidc_payloads SET grant_id = id WHERE model = 'Grant'`);

  await knex.schema.createTable('audit_events', (table) => {
    table.bigIncrements('id').primary();
    table.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.text('type').notNullable();
    table.text('actor_type').notNullable();
    table.text('actor_id');
    table.text('subject_type');
    table.text('subject_id');
    table.text('ip');
    table.text('outcome').notNullable();
    table.jsonb('details').notNullable().defaultTo('{}');
    table.index(['occurred_at']);
    table.index(['type', 'occurred_at']);
    table.index(['actor_id']);
    table.index(['subject_id']);
  });
  await knex.raw("ALTER TABLE audit_events ADD CONSTRAINT audit_events_outcome_check CHECK (outcome IN ('success', 'failure'))");

  await knex.schema.createTable('initial_access_tokens', (table) => {
    table.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    table.text('token_hash').notNullable().unique();
    table.text('description');
    table.text('created_by');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('expires_at', { useTz: true });
    table.timestamp('revoked_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('initial_access_tokens');
  await knex.schema.dropTableIfExists('audit_events');
  // Hashed secrets and grant ids cannot be turned back: clients keep no secret after a rollback.
  await knex.schema.alterTable('clients', (table) => {
    table.text('client_secret');
    table.dropColumns('client_secret_hash', 'previous_secret_hash', 'previous_secret_expires_at', 'first_party', 'admin_access', 'registered_dynamically');
  });
  await knex.schema.alterTable('users', (table) => {
    table.dropColumn('is_admin');
  });
}
