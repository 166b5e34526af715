ALTER TABLE `customers` ADD `default_payment_method_id` text;--> statement-breakpoint
ALTER TABLE `customers` ADD `card_expires_at` integer;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `default_payment_method_id` text;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `card_expires_at` integer;