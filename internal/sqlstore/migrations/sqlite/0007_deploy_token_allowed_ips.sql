-- Optional per-token IP allow-list: comma-separated CIDR prefixes; empty allows every address.
ALTER TABLE deploy_tokens ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
