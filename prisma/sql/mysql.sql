-- flagtrail tables for MySQL 8 and MariaDB 10.5+. Safe to run more than once.
-- flipper_features and flipper_gates are the tables of Ruby Flipper's ActiveRecord migration
-- (gate values TEXT, unique index on a 255-character prefix of the value), with a binary
-- collation so that feature keys, actor ids and group names are case-sensitive as in every other
-- store ("Admins" and "admins" are two groups). Skip them if your Rails app created them already.

CREATE TABLE IF NOT EXISTS flipper_features (
  id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `key` varchar(255) NOT NULL,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL,
  UNIQUE KEY index_flipper_features_on_key (`key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS flipper_gates (
  id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
  feature_key varchar(255) NOT NULL,
  `key` varchar(255) NOT NULL,
  value text,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL,
  UNIQUE KEY index_flipper_gates_on_feature_key_and_key_and_value (feature_key, `key`, value(255))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The audit trail. Ids are UUIDv7 strings in an ASCII binary column: byte order is time order.
CREATE TABLE IF NOT EXISTS flagtrail_audit_entries (
  id char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  version int NOT NULL,
  feature varchar(255) NOT NULL,
  operation varchar(16) NOT NULL,
  gate varchar(32) NULL,
  value json NULL,
  `before` json NOT NULL,
  `after` json NOT NULL,
  changes json NOT NULL,
  actor_id varchar(255) NOT NULL,
  actor_label text NULL,
  actor_type text NULL,
  context json NOT NULL,
  adapter varchar(255) NOT NULL,
  created_at datetime(3) NOT NULL,
  KEY flagtrail_audit_entries_feature_id_idx (feature, id),
  KEY flagtrail_audit_entries_actor_id_id_idx (actor_id, id),
  KEY flagtrail_audit_entries_created_at_idx (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
