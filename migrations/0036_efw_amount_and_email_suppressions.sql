CREATE TABLE `email_suppressions` (
	`user_id` text NOT NULL,
	`category` text NOT NULL,
	`address` text,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `category`)
);
--> statement-breakpoint
CREATE INDEX `email_suppressions_address_idx` ON `email_suppressions` (`address`);--> statement-breakpoint
ALTER TABLE `early_fraud_warnings` ADD `amount` integer;--> statement-breakpoint
ALTER TABLE `early_fraud_warnings` ADD `currency` text;