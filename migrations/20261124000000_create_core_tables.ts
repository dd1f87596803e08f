import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (table) => {
    table.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    table.text('email').notNullable();
    table.boolean('email_verified').notNullable().defaultTo(false);
    table.text('name');
    table.text('password_hash');
    table.boolean('disabled').notNullable().defaultTo(false);
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE UNIQUE INDEX users_email_lower_unique ON users (lower(email))');

  await knex.schema.createTable('clients', (table) => {
    table.text('client_id').primary();
    table.text('name').notNullable();
    // Until secrets are hashed at rest (admin issue), the provider compares this value itself.
    table.text('client_secret');
    // oidc-provider client metadata (snake_case, as registered), minus the secret.
    table.jsonb('metadata').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.index(['name']);
  });

  await knex.schema.createTable('resources', (table) => {
    table.text('identifier').primary();
    table.jsonb('scopes').notNullable();
    table.text('access_token_format').notNullable().defaultTo('jwt');
    table.integer('access_token_ttl');
    table.text('introspection_client_id').references('client_id').inTable('clients').onDelete('SET NULL');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("ALTER TABLE resources ADD CONSTRAINT resources_format_check CHECK (access_token_format IN ('jwt', 'opaque'))");

  // Which client may ask for which API, and for which of its scopes.
  await knex.schema.createTable('client_resources', (table) => {
    table.text('client_id').notNullable().references('client_id').inTable('clients').onDelete('CASCADE');
    table.text('resource_identifier').notNullable().references('identifier').inTable('resources').onDelete('CASCADE').onUpdate('CASCADE');
    table.jsonb('scopes').notNullable();
    table.primary(['client_id', 'resource_identifier']);
    table.index(['resource_identifier']);
  });

  // Every oidc-provider artifact. `id` is a SHA-256 of the artifact id, so a dump holds no usable token.
  await knex.schema.createTable('oidc_payloads', (table) => {
    table.text('model').notNullable();
    table.text('id').notNullable();
    table.jsonb('payload').notNullable();
    table.text('grant_id');
    table.text('user_code');
    table.text('uid');
    table.text('account_id');
    table.text('client_id');
    table.timestamp('expires_at', { useTz: true });
    table.timestamp('consumed_at', { useTz: true });
    table.primary(['model', 'id']);
    table.index(['grant_id']);
    table.index(['model', 'uid']);
    table.index(['model', 'user_code']);
    table.index(['account_id']);
    table.index(['client_id']);
    table.index(['expires_at']);
  });

  await knex.schema.createTable('signing_keys', (table) => {
    table.text('kid').primary();
    table.text('alg').notNullable();
    table.jsonb('private_jwk').notNullable();
    table.text('state').notNullable().defaultTo('active');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('cookie_secrets', (table) => {
    table.increments('id').primary();
    table.text('secret').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // One counter per cached topic; every process polls it and drops its cache when it moves.
  await knex.schema.createTable('change_counters', (table) => {
    table.text('topic').primary();
    table.bigInteger('version').notNullable().defaultTo(0);
  });
  await knex('change_counters').insert([{ topic: 'clients' }, { topic: 'resources' }, { topic: 'keys' }]);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['change_counters', 'cookie_secrets', 'signing_keys', 'oidc_payloads', 'client_resources', 'resources', 'clients', 'users']) {
    await knex.schema.dropTableIfExists(table);
  }
}
