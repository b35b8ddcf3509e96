-- +goose Up
-- Chats, members and messages, owned by the chat service. Messages live in
-- their own table indexed by (chat_id, id); never an embedded array.
CREATE TABLE chats (
  id                object_id PRIMARY KEY,
  type              text NOT NULL DEFAULT 'chat' CHECK (type IN ('chat', 'community', 'debate')),
  -- Direct chats only: "<smaller id>:<larger id>", so each pair has one chat.
  direct_key        text UNIQUE,
  created_by        object_id,
  last_message_id   object_id,
  last_message_at   timestamptz NOT NULL DEFAULT now(),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((type = 'chat') = (direct_key IS NOT NULL))
);

CREATE TABLE chat_members (
  chat_id      object_id NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  user_id      object_id NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The newest message this member has read; NULL before the first read.
  last_read_id object_id,
  joined_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chat_id, user_id)
);
-- "My chats".
CREATE INDEX chat_members_user_idx ON chat_members (user_id, chat_id);

CREATE TABLE messages (
  chat_id           object_id NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  id                object_id NOT NULL,
  sender_id         object_id NOT NULL,
  text              text NOT NULL,
  type              text NOT NULL DEFAULT 'text'
                    CHECK (type IN ('text', 'call-started', 'call-ended', 'call-missed')),
  call_id           object_id,
  client_message_id text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chat_id, id)
);
-- Retried sends with the same clientMessageId return the first message.
CREATE UNIQUE INDEX messages_idempotency_idx ON messages (chat_id, sender_id, client_message_id)
  WHERE client_message_id IS NOT NULL;

-- +goose Down
DROP TABLE messages;
DROP TABLE chat_members;
DROP TABLE chats;
