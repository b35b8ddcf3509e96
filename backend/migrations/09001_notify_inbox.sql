-- +goose Up
-- The notification inbox, owned by the notify tier (issue 19).
--
-- A group is one inbox entry ("Asha and 12 others liked your post"): kind
-- plus grouping key (the post, chat or call; for follows the local day),
-- open for joining while its head points at it and it started less than
-- the grouping window ago. seq comes from one sequence and moves each time
-- the group is joined: the inbox is ordered by it, and the read marker is
-- a seq (a group is unread while its seq is above the user's marker).
CREATE SEQUENCE notification_seq;

CREATE TABLE notification_groups (
  id           object_id PRIMARY KEY,
  user_id      object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind         smallint NOT NULL,
  -- What the group is about: a post (like, comment, mention), a chat
  -- (message) or a call (missed_call, call_declined); NULL for follows.
  subject_id   object_id,
  -- The latest comment (comment, mention in a comment).
  item_id      object_id,
  -- Maintained by triggers on notification_actors: always their count.
  actors_count integer NOT NULL DEFAULT 0,
  preview      text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL,
  latest_at    timestamptz NOT NULL,
  seq          bigint NOT NULL
);
CREATE INDEX notification_groups_user_seq_idx ON notification_groups (user_id, seq DESC);
CREATE INDEX notification_groups_user_kind_seq_idx ON notification_groups (user_id, kind, seq DESC);

-- The open group of (user, kind, key). Upserting it serializes the
-- events of one key, so concurrent events never open two groups.
CREATE TABLE notification_heads (
  user_id    object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind       smallint NOT NULL,
  key        text NOT NULL,
  group_id   object_id NOT NULL,
  started_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, kind, key)
);

CREATE TABLE notification_actors (
  group_id object_id NOT NULL REFERENCES notification_groups (id) ON DELETE CASCADE,
  actor_id object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  at       timestamptz NOT NULL,
  PRIMARY KEY (group_id, actor_id)
);
CREATE INDEX notification_actors_newest_idx ON notification_actors (group_id, at DESC);
-- Account deletion cascades through it.
CREATE INDEX notification_actors_actor_idx ON notification_actors (actor_id);

-- actors_count follows the actor rows whatever removes them: an unlike, a
-- block, an account deletion cascading here. A group left without actors
-- is removed. Statement-level, so a batch costs one update per group.
-- +goose StatementBegin
CREATE FUNCTION notification_actors_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE notification_groups g SET actors_count = g.actors_count + d.n
  FROM (SELECT group_id, count(*) AS n FROM added GROUP BY group_id) d
  WHERE g.id = d.group_id;
  RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION notification_actors_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE notification_groups g SET actors_count = g.actors_count - d.n
  FROM (SELECT group_id, count(*) AS n FROM removed GROUP BY group_id) d
  WHERE g.id = d.group_id;
  DELETE FROM notification_groups g
  WHERE g.id IN (SELECT group_id FROM removed) AND g.actors_count <= 0;
  RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER notification_actors_added AFTER INSERT ON notification_actors
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION notification_actors_added();
CREATE TRIGGER notification_actors_removed AFTER DELETE ON notification_actors
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION notification_actors_removed();

-- Applied event ids: an event is applied in the transaction that records
-- its id, so a redelivered event changes nothing. Ids are ObjectIds, so
-- the cleanup deletes a key range.
CREATE TABLE notification_events (
  event_id object_id PRIMARY KEY
);

-- Per user: the read marker and the preferences (kinds as notify.v1.Kind).
CREATE TABLE notification_users (
  user_id     object_id PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  read_seq    bigint NOT NULL DEFAULT 0,
  inbox_off   smallint[] NOT NULL DEFAULT '{}',
  push_off    smallint[] NOT NULL DEFAULT '{}',
  -- Minutes after local midnight; both NULL when there are no quiet hours.
  quiet_start smallint CHECK (quiet_start BETWEEN 0 AND 1439),
  quiet_end   smallint CHECK (quiet_end BETWEEN 0 AND 1439),
  time_zone   text NOT NULL DEFAULT '',
  CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- +goose Down
DROP TABLE notification_users;
DROP TABLE notification_events;
DROP TABLE notification_actors;
DROP FUNCTION notification_actors_added();
DROP FUNCTION notification_actors_removed();
DROP TABLE notification_heads;
DROP TABLE notification_groups;
DROP SEQUENCE notification_seq;
