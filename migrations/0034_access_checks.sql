CREATE TABLE `access_checks` (
	`user_id` text NOT NULL,
	`second` integer NOT NULL,
	`kind` text NOT NULL,
	`count` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`period_end` integer NOT NULL,
	PRIMARY KEY(`user_id`, `second`, `kind`)
);
--> statement-breakpoint
CREATE INDEX `access_checks_period_end_idx` ON `access_checks` (`period_end`);