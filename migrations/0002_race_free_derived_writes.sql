CREATE TABLE `write_guards` (
	`ok` integer NOT NULL,
	CONSTRAINT "stale_read" CHECK("write_guards"."ok" = 1)
);
--> statement-breakpoint
ALTER TABLE `entitlements` ADD `version` integer DEFAULT 0 NOT NULL;