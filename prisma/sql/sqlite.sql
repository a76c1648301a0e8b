-- flagtrail tables for SQLite. Safe to run more than once.
-- flipper_features and flipper_gates are the tables of Ruby Flipper's ActiveRecord migration.

CREATE TABLE IF NOT EXISTS flipper_features (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  key varchar(255) NOT NULL,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_flipper_features_on_key ON flipper_features (key);

CREATE TABLE IF NOT EXISTS flipper_gates (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  feature_key varchar(255) NOT NULL,
  key varchar(255) NOT NULL,
  value text,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_flipper_gates_on_feature_key_and_key_and_value
  ON flipper_gates (feature_key, key, value);

-- The audit trail. Ids are UUIDv7 strings; SQLite compares text bytewise, so id order is time order.
-- JSON columns are TEXT (affinity matters: a "json" type name would turn "25" into a number).
CREATE TABLE IF NOT EXISTS flagtrail_audit_entries (
  id text PRIMARY KEY NOT NULL,
  version integer NOT NULL,
  feature varchar(255) NOT NULL,
  operation varchar(16) NOT NULL,
  gate varchar(32),
  value text,
  before text NOT NULL,
  after text NOT NULL,
  changes text NOT NULL,
  actor_id varchar(255) NOT NULL,
  actor_label text,
  actor_type text,
  context text NOT NULL,
  adapter varchar(255) NOT NULL,
  created_at datetime NOT NULL
);
CREATE INDEX IF NOT EXISTS flagtrail_audit_entries_feature_id_idx ON flagtrail_audit_entries (feature, id);
CREATE INDEX IF NOT EXISTS flagtrail_audit_entries_actor_id_id_idx ON flagtrail_audit_entries (actor_id, id);
CREATE INDEX IF NOT EXISTS flagtrail_audit_entries_created_at_idx ON flagtrail_audit_entries (created_at);
