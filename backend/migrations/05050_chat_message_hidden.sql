-- +goose Up
-- Messages hidden by moderation ('removed' or 'author' suspended), as post_hidden.
CREATE TABLE message_hidden (
  chat_id    object_id NOT NULL,
  message_id object_id NOT NULL,
  cause      text NOT NULL CHECK (cause IN ('removed', 'author')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chat_id, message_id, cause),
  FOREIGN KEY (chat_id, message_id) REFERENCES messages (chat_id, id) ON DELETE CASCADE
);
-- Reports and moderators name a message by its id alone; the primary key
-- leads with chat_id. Also serves SetAuthorHidden's sender scan.
CREATE INDEX messages_id_idx ON messages (id);
CREATE INDEX messages_sender_idx ON messages (sender_id);

-- +goose Down
DROP INDEX messages_sender_idx;
DROP INDEX messages_id_idx;
DROP TABLE message_hidden;
