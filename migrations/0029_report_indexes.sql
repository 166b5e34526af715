DROP INDEX `subscriptions_status_idx`;--> statement-breakpoint
CREATE INDEX `subscriptions_trial_idx` ON `subscriptions` (`currency`,`id`,`trial_start`) WHERE "subscriptions"."trial_start" is not null;--> statement-breakpoint
CREATE INDEX `subscriptions_status_idx` ON `subscriptions` (`status`,`currency`);--> statement-breakpoint
CREATE INDEX `customer_current_tier_idx` ON `customer_current` (`currency`,`tier`,`mrr`);