import type { Knex } from 'knex';

// Webhooks: endpoints admins register, the outbox of events written in the transaction of the
// change that caused them, one delivery per event and endpoint, and every attempt at it.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_endpoints', (table) => {
    table.uuid('id').primary();
    table.text('url').notNullable();
    table.text('description').notNullable().defaultTo('');
    table.specificType('event_types', 'text[]').notNullable();
    table.boolean('enabled').notNullable().defaultTo(true);
    // The signing secret must be usable to sign, so it is sealed under the master key, not hashed.
    table.text('sealed_secret').notNullable();
    // After a rotation with a grace period, deliveries are signed with both secrets until it ends.
    table.text('previous_sealed_secret');
    table.timestamp('previous_secret_expires_at', { useTz: true });
    // Why the endpoint was switched off when it was Latchkey that did it (it kept failing).
    table.text('disabled_reason');
    // Since when every attempt has failed; null after a success.
    table.timestamp('failing_since', { useTz: true });
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('webhook_events', (table) => {
    // The Standard Webhooks message id: receivers de-duplicate on it, so a redelivery keeps it.
    table.text('id').primary();
    table.text('type').notNullable();
    table.timestamp('occurred_at', { useTz: true }).notNullable();
    // Kept as the exact text that is signed and sent.
    table.text('payload').notNullable();
    table.index(['occurred_at']);
  });

  await knex.schema.createTable('webhook_deliveries', (table) => {
    table.bigIncrements('id').primary();
    table.text('event_id').notNullable().references('id').inTable('webhook_events').onDelete('CASCADE');
    table.uuid('endpoint_id').notNullable().references('id').inTable('webhook_endpoints').onDelete('CASCADE');
    table.text('status').notNullable().defaultTo('pending');
    table.integer('attempts').notNullable().defaultTo(0);
    // When the next attempt is due; while an attempt is out, when its lease ends.
    table.timestamp('next_attempt_at', { useTz: true }).notNullable();
    table.integer('last_status_code');
    table.text('last_error');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('completed_at', { useTz: true });
    table.index(['endpoint_id', 'id']);
    table.index(['event_id']);
  });
  // The workers' claim reads only what is still pending, endpoint by endpoint.
  await knex.raw("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending'");

  await knex.schema.createTable('webhook_attempts', (table) => {
    table.bigIncrements('id').primary();
    table.bigInteger('delivery_id').notNullable().references('id').inTable('webhook_deliveries').onDelete('CASCADE');
    table.integer('attempt').notNullable();
    table.timestamp('attempted_at', { useTz: true }).notNullable();
    table.integer('status_code');
    table.integer('latency_ms').notNullable();
    table.text('error');
    table.boolean('succeeded').notNullable();
    table.index(['delivery_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_attempts');
  await knex.schema.dropTable('webhook_deliveries');
  await knex.schema.dropTable('webhook_events');
  await knex.schema.dropTable('webhook_endpoints');
}
