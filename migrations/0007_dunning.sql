CREATE TABLE `dunning_cases` (
	`id` text PRIMARY KEY NOT NULL,
	`invoice_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`customer_id` text NOT NULL,
	`user_id` text,
	`test_clock` text,
	`anchor_at` integer NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`stage` text,
	`next_action_at` integer,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`decline_code` text,
	`opened_at` integer NOT NULL,
	`closed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dunning_cases_invoice_uq` ON `dunning_cases` (`invoice_id`);--> statement-breakpoint
CREATE INDEX `dunning_cases_due_idx` ON `dunning_cases` (`status`,`next_action_at`);--> statement-breakpoint
CREATE INDEX `dunning_cases_clock_due_idx` ON `dunning_cases` (`status`,`test_clock`,`next_action_at`);--> statement-breakpoint
CREATE INDEX `dunning_cases_subscription_idx` ON `dunning_cases` (`subscription_id`,`status`);--> statement-breakpoint
CREATE TABLE `dunning_steps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`case_id` text NOT NULL,
	`step` text NOT NULL,
	`outcome` text NOT NULL,
	`at` integer NOT NULL,
	`email_key` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dunning_steps_case_step_uq` ON `dunning_steps` (`case_id`,`step`);