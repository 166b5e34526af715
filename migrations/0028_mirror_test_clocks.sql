ALTER TABLE `customers` ADD `test_clock` text;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `test_clock` text;