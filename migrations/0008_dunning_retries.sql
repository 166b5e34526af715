ALTER TABLE `dunning_cases` ADD `last_decline_code` text;--> statement-breakpoint
ALTER TABLE `dunning_cases` ADD `retries` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `dunning_cases` ADD `next_retry_at` integer;--> statement-breakpoint
ALTER TABLE `dunning_cases` ADD `stripe_next_attempt_at` integer;