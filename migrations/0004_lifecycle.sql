CREATE TABLE `cancellation_requests` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`at` integer NOT NULL,
	`reason` text NOT NULL,
	`feedback` text,
	`outcome` text NOT NULL,
	`offer_id` text,
	`cancel_at` integer
);
--> statement-breakpoint
CREATE INDEX `cancellation_requests_user_idx` ON `cancellation_requests` (`user_id`,`at`);--> statement-breakpoint
CREATE INDEX `cancellation_requests_at_idx` ON `cancellation_requests` (`at`);--> statement-breakpoint
CREATE TABLE `retention_offers` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`kind` text NOT NULL,
	`terms` text NOT NULL,
	`description` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`decided_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `retention_offers_user_uq` ON `retention_offers` (`user_id`);--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `cancel_at` integer;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `pause_behavior` text;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `pause_resumes_at` integer;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `schedule_id` text;