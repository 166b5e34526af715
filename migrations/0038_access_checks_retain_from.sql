DROP INDEX `access_checks_period_end_idx`;--> statement-breakpoint
ALTER TABLE `access_checks` ADD `retain_from` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `access_checks_retain_from_idx` ON `access_checks` (`retain_from`);--> statement-breakpoint
UPDATE `access_checks` SET `retain_from` = `period_end`;
