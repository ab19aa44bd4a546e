-- An e-mail address is unique within an organization, not across all of them. With one global index, an admin
-- adding a user learned from the 409 that the address had an account in some other organization: a tenant could
-- probe other tenants' staff lists. Each organization now has its own accounts (as separate workspaces do), and
-- login tells them apart by the password, or by the organization when the caller names it (README, Security).
DROP INDEX users_email_idx;
CREATE UNIQUE INDEX users_org_email_idx ON users (org_id, lower(email));
CREATE INDEX users_email_idx ON users (lower(email));
