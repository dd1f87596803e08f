import type { Knex } from 'knex';

// Token exchange (RFC 8693): which client may exchange a user's access token for one API
// (subject_audience) for a token for another (target_audience), and for at most which scopes.
// Nothing is exchangeable without a row here.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('token_exchange_policies', (table) => {
    table.uuid('id').primary();
    table.text('client_id').notNullable().references('client_id').inTable('clients').onDelete('CASCADE');
    // A policy goes with either API: a deleted API can no longer be exchanged for or from.
    table.text('subject_audience').notNullable().references('identifier').inTable('resources').onDelete('CASCADE');
    table.text('target_audience').notNullable().references('identifier').inTable('resources').onDelete('CASCADE');
    table.specificType('scopes', 'text[]').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['client_id', 'subject_audience', 'target_audience']);
    table.index(['subject_audience']);
    table.index(['target_audience']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('token_exchange_policies');
}
