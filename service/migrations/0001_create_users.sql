-- The users table. IF NOT EXISTS: an environment seeded before the service first ran may
-- already have it, and the migration must then be a no-op rather than a failed start.
CREATE TABLE IF NOT EXISTS users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       varchar(100) NOT NULL,
    email      varchar(255) NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now(),
    updated_at timestamptz  NOT NULL DEFAULT now(),
    -- The unique constraint is also the index on email; the service maps its violation
    -- to 409 by this name.
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE INDEX IF NOT EXISTS users_created_at_idx ON users (created_at);
