CREATE TABLE `backups` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`at` integer NOT NULL,
	`file` text NOT NULL,
	`target` text NOT NULL,
	`bytes` integer NOT NULL,
	`sha256` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `backups_kind_at_idx` ON `backups` (`kind`,`at`);