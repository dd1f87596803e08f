import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (table) => {
    // How the account came to be: 'admin' (CLI, API, console), 'signup' or 'import'. A
    // self-service account proves its address before it can sign in.
    table.text('created_via').notNullable().defaultTo('admin');
  });
  await knex.raw("ALTER TABLE users ADD CONSTRAINT users_created_via_check CHECK (created_via IN ('admin', 'signup', 'import'))");

  // Links sent by email (verify an address, reset a password). Only a digest of the token is kept.
  await knex.schema.createTable('email_tokens', (table) => {
    table.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    table.text('token_hash').notNullable().unique();
    table.text('purpose').notNullable();
    table.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    // The address the link proves: the account's, or the new one a user asked to change to.
    table.text('email').notNullable();
    // Where the browser goes once the link is used: a same-origin path (a sign-in in progress).
    table.text('return_to');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.timestamp('used_at', { useTz: true });
    table.index(['user_id', 'purpose']);
    table.index(['expires_at']);
  });
  await knex.raw("ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password'))");

  // Every email goes through here: delivered by a server when SMTP is configured, held for the
  // admin console when it is not.
  await knex.schema.createTable('mail_outbox', (table) => {
    table.bigIncrements('id').primary();
    table.text('to_address').notNullable();
    table.text('subject').notNullable();
    table.text('text_body').notNullable();
    table.text('html_body').notNullable();
    table.text('status').notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.text('last_error');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('sent_at', { useTz: true });
    table.index(['status', 'next_attempt_at']);
    table.index(['created_at']);
  });
  await knex.raw("ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_status_check CHECK (status IN ('pending', 'held', 'sent', 'failed'))");

  // Failed attempts per key (an email's digest, an IP, a client), shared by every node.
  await knex.schema.createTable('throttles', (table) => {
    table.text('key').primary();
    table.integer('failures').notNullable();
    table.timestamp('blocked_until', { useTz: true });
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.index(['expires_at']);
  });

  // Back-channel logout tokens still to be sent; any running server sends them.
  await knex.schema.createTable('backchannel_logouts', (table) => {
    table.bigIncrements('id').primary();
    table.text('client_id').notNullable();
    table.text('account_id').notNullable();
    table.text('sid');
    table.integer('attempts').notNullable().defaultTo(0);
    table.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.text('last_error');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.index(['next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('backchannel_logouts');
  await knex.schema.dropTable('throttles');
  await knex.schema.dropTable('mail_outbox');
  await knex.schema.dropTable('email_tokens');
  await knex.schema.alterTable('users', (table) => {
    table.dropColumn('created_via');
  });
}
