-- Users' free-text profile fields (GitLab's bio, location, organization, …) as one JSON object:
-- shown and changed through the API, never used to decide anything.
ALTER TABLE users ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
