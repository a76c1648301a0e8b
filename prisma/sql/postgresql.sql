-- flagtrail tables for PostgreSQL. Safe to run more than once.
-- flipper_features and flipper_gates are exactly the tables of Ruby Flipper's ActiveRecord
-- migration (`rails g flipper:active_record`): skip them if your Rails app already created them.

CREATE TABLE IF NOT EXISTS flipper_features (
  id bigserial PRIMARY KEY,
  key varchar(255) NOT NULL,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_flipper_features_on_key ON flipper_features (key);

CREATE TABLE IF NOT EXISTS flipper_gates (
  id bigserial PRIMARY KEY,
  feature_key varchar(255) NOT NULL,
  key varchar(255) NOT NULL,
  value text,
  created_at timestamp(6) without time zone NOT NULL,
  updated_at timestamp(6) without time zone NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_flipper_gates_on_feature_key_and_key_and_value
  ON flipper_gates (feature_key, key, value);

-- The audit trail. Ids are UUIDv7 strings: with the "C" collation their byte order, which is
-- time order, is the order of the primary key and of the `id < cursor` pagination.
-- JSON columns are `json` (not `jsonb`) so entries come back exactly as written.
CREATE TABLE IF NOT EXISTS flagtrail_audit_entries (
  id varchar(36) COLLATE "C" PRIMARY KEY,
  version integer NOT NULL,
  feature varchar(255) NOT NULL,
  operation varchar(16) NOT NULL,
  gate varchar(32),
  value json,
  before json NOT NULL,
  after json NOT NULL,
  changes json NOT NULL,
  actor_id varchar(255) NOT NULL,
  actor_label text,
  actor_type text,
  context json NOT NULL,
  adapter varchar(255) NOT NULL,
  created_at timestamptz(3) NOT NULL
);
CREATE INDEX IF NOT EXISTS flagtrail_audit_entries_feature_id_idx ON flagtrail_audit_entries (feature, id);
CREATE INDEX IF NOT EXISTS flagtrail_audit_entries_actor_id_id_idx ON flagtrail_audit_entries (actor_id, id);
CREATE INDEX IF NOT EXISTS flagtrail_audit_entries_created_at_idx ON flagtrail_audit_entries (created_at);
